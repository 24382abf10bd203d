"""Tokenisation: vocabulary, round trips, IUPAC codes, k-mers, padding masks, reverse complement (text and tokens)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from genomics.alphabet import reverse_complement
from genomics.strands import StrandAveraged, random_reverse_complement
from genomics.tokens import PAD, NucleotideTokenizer, reverse_complement_tokens
from titans_ts.errors import DataError


def random_dna(n: int, seed: int) -> str:
    return "".join(random.Random(seed).choices("ACGT", k=n))


def test_single_base_vocabulary_and_round_trip() -> None:
    tokenizer = NucleotideTokenizer()
    assert tokenizer.vocab == ["<pad>", "A", "C", "G", "T", "N"] and tokenizer.vocab_size == 6
    assert tokenizer.encode("ACGTNacgtn").tolist() == [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]
    sequence = random_dna(57, seed=1)
    assert tokenizer.decode(tokenizer.encode(sequence.lower())) == sequence
    assert tokenizer.decode([1, 2, PAD, PAD]) == "AC"


def test_iupac_codes_read_as_n_with_a_warning_count() -> None:
    tokenizer = NucleotideTokenizer()
    assert tokenizer.decode(tokenizer.encode("ARYSWKMBDHVa")) == "ANNNNNNNNNNA"
    with pytest.warns(UserWarning, match=r"^train.csv: 3 IUPAC ambiguity code\(s\) \(R Y S W K M B D H V\) in 2 "
                      r"sequence\(s\) read as N$"):
        encoded = tokenizer.encode_batch(["ACRT", "ACGT", "yyA"], 4, source="train.csv")
    assert encoded.n_ambiguous == 3 and encoded.tokens[0].tolist() == [1, 2, 5, 4]


def test_invalid_characters_raise() -> None:
    with pytest.raises(DataError, match=r"character outside the DNA alphabet: 'U' at position 3"):
        NucleotideTokenizer().encode("ACUG")


def test_padding_truncation_and_mask() -> None:
    encoded = NucleotideTokenizer().encode_batch(["ACG", "ACGTACGT", ""], 5)
    assert encoded.tokens.tolist() == [[1, 2, 3, 0, 0], [1, 2, 3, 4, 1], [0, 0, 0, 0, 0]]
    assert encoded.mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5, [False] * 5]
    assert encoded.tokens.dtype == torch.long and encoded.mask.dtype == torch.bool and encoded.n_ambiguous == 0


@pytest.mark.parametrize(("k", "overlapping"), [(2, False), (3, False), (3, True), (4, True)])
def test_kmer_round_trips(k: int, overlapping: bool) -> None:
    tokenizer = NucleotideTokenizer(k, overlapping)
    assert tokenizer.vocab_size == 5**k + 1 and tokenizer.vocab[1] == "A" * k and tokenizer.vocab[-1] == "N" * k
    for length in (k, 2 * k, 2 * k + 1, 31):
        sequence = random_dna(length, seed=length)
        ids = tokenizer.encode(sequence)
        assert len(ids) == tokenizer.n_tokens(length)
        padding = 0 if overlapping else -length % k
        assert tokenizer.decode(ids) == sequence + "N" * padding


def test_kmer_ids_stride_and_short_sequences() -> None:
    kmers = NucleotideTokenizer(2)
    assert kmers.encode("ACGTA").dtype == np.int64
    assert kmers.encode("ACGTA").tolist() == [1 + 0 * 5 + 1, 1 + 2 * 5 + 3, 1 + 0 * 5 + 4]  # AC GT AN
    sliding = NucleotideTokenizer(3, overlapping=True)
    assert [sliding.vocab[i] for i in sliding.encode("ACGTA")] == ["ACG", "CGT", "GTA"]
    assert [sliding.vocab[i] for i in sliding.encode("AC")] == ["ACN"]


def test_reverse_complement_text() -> None:
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("acgRYKM") == "KMRYcgt"
    sequence = random_dna(40, seed=4)
    assert reverse_complement(reverse_complement(sequence)) == sequence


@pytest.mark.parametrize(("k", "overlapping"), [(1, False), (3, True), (2, False)])
def test_reverse_complement_tokens_match_the_encoded_reverse_complement(k: int, overlapping: bool) -> None:
    tokenizer = NucleotideTokenizer(k, overlapping)
    sequences = [random_dna(n, seed=n) for n in (10, 16, 4)]
    length = tokenizer.n_tokens(16)
    encoded = tokenizer.encode_batch(sequences, length)
    flipped = reverse_complement_tokens(encoded.tokens, encoded.mask, tokenizer.complement)
    expected = tokenizer.encode_batch([reverse_complement(s) for s in sequences], length)
    assert torch.equal(flipped, expected.tokens)
    assert torch.equal(reverse_complement_tokens(flipped, encoded.mask, tokenizer.complement), encoded.tokens)


def test_random_reverse_complement_flips_whole_rows() -> None:
    tokenizer = NucleotideTokenizer()
    encoded = tokenizer.encode_batch([random_dna(12, seed=i) for i in range(64)], 16)
    flipped = reverse_complement_tokens(encoded.tokens, encoded.mask, tokenizer.complement)
    generator = torch.Generator().manual_seed(0)
    out = random_reverse_complement(encoded.tokens, encoded.mask, tokenizer.complement, generator)
    same = (out == encoded.tokens).all(1)
    assert torch.equal(out[~same], flipped[~same]) and 16 < same.sum() < 48


def test_strand_averaging_is_strand_symmetric() -> None:
    tokenizer = NucleotideTokenizer()
    torch.manual_seed(0)
    model = StrandAveraged(_BagOfPositions(tokenizer.vocab_size, 8), tokenizer.complement).eval()
    encoded = tokenizer.encode_batch([random_dna(n, seed=n) for n in (5, 8)], 8)
    flipped = reverse_complement_tokens(encoded.tokens, encoded.mask, tokenizer.complement)
    averaged = model(encoded.tokens, encoded.mask)
    assert torch.allclose(averaged, model(flipped, encoded.mask), atol=1e-6)
    assert torch.allclose(averaged.exp().sum(-1), torch.ones(2), atol=1e-6)
    assert not torch.allclose(model.model(encoded.tokens, encoded.mask), model.model(flipped, encoded.mask))
    model.train()
    assert torch.equal(model(encoded.tokens, encoded.mask), model.model(encoded.tokens, encoded.mask))


class _BagOfPositions(torch.nn.Module):
    """A strand-asymmetric toy classifier: a linear map of the one-hot tokens at every position → 3 logits."""

    def __init__(self, vocab_size: int, length: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.linear = torch.nn.Linear(vocab_size * length, 3)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.nn.functional.one_hot(tokens, self.vocab_size).flatten(1).float())
