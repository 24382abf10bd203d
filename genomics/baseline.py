"""The Genomic Benchmarks CNN baseline (Grešová et al. 2023), in the classifier contract of ``TitansClassifierNet``.

Architecture of ``CNN`` in ML-Bioinfo-CEITEC/genomic_benchmarks ``src/genomic_benchmarks/models/torch.py``: embedding
(dim 100 in their experiments) → three blocks Conv1d (kernel 8; 16, 8, 4 filters) → BatchNorm → ReLU → MaxPool(2)
→ flatten → Linear(512) → Linear(outputs), no non-linearity between the two linear layers. Theirs has one sigmoid
output and handles two classes only; here there are ``n_classes`` logits for cross-entropy (for two classes the same
family of functions: the logit difference plays the sigmoid's input).
"""

from __future__ import annotations

from torch import Tensor, nn

MIN_LENGTH = 57  # shortest input that leaves one position after the three conv/pool blocks


class GenomicBenchmarksCNN(nn.Module):
    """tokens (B, length) int64 and mask (B, length) → logits (B, n_classes); ``length`` is fixed at construction.

    The mask is accepted for the common contract and unused: as in the original, padding is a token the CNN embeds.
    """

    def __init__(self, vocab_size: int, n_classes: int, length: int, embedding_dim: int = 100) -> None:
        super().__init__()
        if length < MIN_LENGTH:
            raise ValueError(f"the Genomic Benchmarks CNN needs inputs of at least {MIN_LENGTH} tokens; got {length}")
        self.length = length
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        blocks, channels, positions = [], embedding_dim, length
        for filters in (16, 8, 4):
            blocks += [nn.Conv1d(channels, filters, kernel_size=8), nn.BatchNorm1d(filters), nn.ReLU(), nn.MaxPool1d(2)]
            channels, positions = filters, (positions - 7) // 2
        self.convolutions = nn.Sequential(*blocks, nn.Flatten())
        self.dense = nn.Sequential(nn.Linear(channels * positions, 512), nn.Linear(512, n_classes))

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        if tokens.shape[1] != self.length:
            raise ValueError(f"this CNN was built for {self.length} tokens; got {tokens.shape[1]}")
        return self.dense(self.convolutions(self.embedding(tokens).transpose(1, 2)))
