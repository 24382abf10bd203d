"""Classifiers: shapes for every variant and pooling, padding invariance, the Genomic Benchmarks CNN, and a tiny Titans
classifier that must learn a planted motif."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F

from genomics.baseline import MIN_LENGTH, GenomicBenchmarksCNN
from genomics.make_demo import planted_motif
from genomics.model import POOLINGS, TitansClassifierNet
from genomics.tokens import NucleotideTokenizer
from titans_ts import TitansConfig
from titans_ts.config import VARIANTS


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread: on 2 shared cores two threads were several times slower for models this small."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny(variant: str) -> TitansConfig:
    return TitansConfig(variant=variant, d_model=16, n_layers=1, n_heads=2, window=8, segment_size=8, n_persistent=2)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_logits_ignore_the_padding(variant: str, pooling: str) -> None:
    torch.manual_seed(0)
    tokenizer = NucleotideTokenizer()
    model = TitansClassifierNet(tokenizer.vocab_size, 3, tiny(variant), pooling).eval()
    sequences = ["ACGTACGTTTGA", "GGCATA", "ACGTACGTTTGACCAT"]
    short = tokenizer.encode_batch(sequences, 16)
    long = tokenizer.encode_batch(sequences, 29)
    logits = model(short.tokens, short.mask)
    assert logits.shape == (3, 3) and torch.isfinite(logits).all()
    assert torch.allclose(logits, model(long.tokens, long.mask), atol=1e-5)
    alone = model(short.tokens[1:2, :6], short.mask[1:2, :6])
    assert torch.allclose(logits[1:2], alone, atol=1e-5)


def test_pooling_reads_only_real_tokens() -> None:
    torch.manual_seed(0)
    model = TitansClassifierNet(6, 2, tiny("lmm"), "mean").eval()
    tokens = torch.tensor([[1, 2, 3, 4, 0, 0]])
    mask = tokens != 0
    features, _ = model.backbone(model.embedding(tokens))
    assert torch.allclose(model.pooling(features, mask), features[0, :4].mean(0, keepdim=True), atol=1e-6)
    model.pooling.how = "last"
    assert torch.equal(model.pooling(features, mask), features[:, 3])


def test_unknown_pooling() -> None:
    with pytest.raises(ValueError, match="pooling must be one of mean, last, attention; got 'max'"):
        TitansClassifierNet(6, 2, tiny("mag"), "max")


def test_genomic_benchmarks_cnn_contract() -> None:
    torch.manual_seed(0)
    model = GenomicBenchmarksCNN(vocab_size=6, n_classes=3, length=200)
    assert [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv1d)] == [16, 8, 4]
    assert [m.in_features for m in model.modules() if isinstance(m, torch.nn.Linear)] == [4 * 18, 512]
    tokens = torch.randint(1, 6, (5, 200))
    assert model(tokens, torch.ones_like(tokens, dtype=torch.bool)).shape == (5, 3)
    with pytest.raises(ValueError, match="this CNN was built for 200 tokens; got 100"):
        model(tokens[:, :100], tokens[:, :100] > 0)
    with pytest.raises(ValueError, match=f"at least {MIN_LENGTH} tokens; got 56"):
        GenomicBenchmarksCNN(6, 2, length=MIN_LENGTH - 1)
    shortest = tokens[:2, :MIN_LENGTH]
    assert GenomicBenchmarksCNN(6, 2, length=MIN_LENGTH)(shortest, shortest > 0).shape == (2, 2)


def test_titans_classifier_learns_a_planted_motif() -> None:
    """200 Adam steps of a one-layer LMM (d_model 32) on 64-base sequences, TATAAA planted on either strand in half of
    them; ≥ 90 % accuracy on 500 held-out sequences (measured 97.8 %)."""
    torch.manual_seed(0)
    tokenizer = NucleotideTokenizer()
    sequences, labels = planted_motif(3000, 64, seed=1, motifs=("TATAAA",))
    encoded, y = tokenizer.encode_batch(sequences, 64), torch.tensor(labels)
    config = TitansConfig(variant="lmm", d_model=32, n_layers=1, n_heads=2, n_persistent=2)
    model = TitansClassifierNet(tokenizer.vocab_size, 2, config, pooling="attention")
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        batch = torch.randint(0, 2500, (32,), generator=generator)
        loss = F.cross_entropy(model(encoded.tokens[batch], encoded.mask[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = model(encoded.tokens[2500:], encoded.mask[2500:]).argmax(-1)
    assert (predicted == y[2500:]).float().mean() >= 0.9
