"""Nucleotide tokenisation: single bases or k-mers, padding/truncation to a length with a mask, reverse complement.

Vocabulary: id 0 is PAD; then, for k = 1, A C G T N (ids 1-5); for k > 1, the 5^k k-mers over A C G T N in
lexicographic order of that alphabet (AA…A = 1, …, NN…N = 5^k). Input of any case is accepted; the IUPAC ambiguity
codes R Y S W K M B D H V are read as N and counted (a warning gives the count).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np
import torch
from torch import Tensor

from genomics.alphabet import AMBIGUOUS, BASES, count_ambiguous, describe_invalid, invalid_characters
from genomics.alphabet import reverse_complement as reverse_complement_text
from titans_ts.errors import DataError

PAD = 0
_INVALID = 255
_BASE_INDEX = np.full(256, _INVALID, dtype=np.uint8)  # byte -> 0..4 (A C G T N), ambiguity codes -> N
for _index, _letters in enumerate(("Aa", "Cc", "Gg", "Tt", "Nn" + AMBIGUOUS + AMBIGUOUS.lower())):
    _BASE_INDEX[np.frombuffer(_letters.encode(), dtype=np.uint8)] = _index


@dataclass(frozen=True)
class Encoded:
    """A batch of sequences as ``tokens`` (N, length) int64, right-padded with PAD, and ``mask`` (N, length) bool, True
    on real tokens (a prefix of each row); ``n_ambiguous`` counts the IUPAC codes read as N."""

    tokens: Tensor
    mask: Tensor
    n_ambiguous: int


class NucleotideTokenizer:
    """Bases (k = 1) or k-mers to ids and back.

    k-mers are ``overlapping`` (stride 1: L − k + 1 tokens, each base in up to k of them) or not (stride k:
    ⌈L / k⌉ tokens). A sequence shorter than k, and for non-overlapping k-mers a last incomplete k-mer, is padded with N
    up to a whole k-mer, so ``decode(encode(s))`` is ``s`` upper-cased with ambiguity codes as N, plus that N padding.
    """

    def __init__(self, k: int = 1, overlapping: bool = False) -> None:
        if k < 1:
            raise ValueError(f"k must be ≥ 1; got {k}")
        self.k, self.overlapping = k, overlapping and k > 1
        self.vocab = ["<pad>", *("".join(letters) for letters in product(BASES, repeat=k))]
        self._ids = {kmer: i for i, kmer in enumerate(self.vocab)}
        self._powers = len(BASES) ** np.arange(k - 1, -1, -1)
        complement = [PAD, *(self._ids[reverse_complement_text(kmer)] for kmer in self.vocab[1:])]
        self.complement = torch.tensor(complement, dtype=torch.long)  # id -> id of its reverse complement

    @property
    def vocab_size(self) -> int:
        """Number of ids, PAD included."""
        return len(self.vocab)

    def n_tokens(self, n_bases: int) -> int:
        """Tokens of a sequence of ``n_bases`` bases (≥ 1)."""
        if self.overlapping:
            return max(n_bases - self.k + 1, 1)
        return -(-n_bases // self.k)

    def encode(self, sequence: str) -> np.ndarray:
        """Ids (int64) of ``sequence``; DataError for characters outside the alphabet."""
        bases = _BASE_INDEX[np.frombuffer(sequence.encode("utf-8", "replace"), dtype=np.uint8)]
        if (bases == _INVALID).any():
            raise DataError(f"sequence {sequence[:20]!r}…: {describe_invalid(invalid_characters(sequence))}")
        if self.k == 1:
            return bases.astype(np.int64) + 1
        n_padded = max(len(bases) if self.overlapping else self.n_tokens(len(bases)) * self.k, self.k)
        bases = np.concatenate([bases, np.full(n_padded - len(bases), BASES.index("N"), dtype=np.uint8)])
        windows = np.lib.stride_tricks.sliding_window_view(bases, self.k)[:: 1 if self.overlapping else self.k]
        return windows.astype(np.int64) @ self._powers + 1

    def decode(self, ids: Sequence[int] | np.ndarray | Tensor) -> str:
        """The bases of ``ids`` (PAD skipped): k-mers joined, overlapping ones by their first k-mer and last bases."""
        kmers = [self.vocab[int(i)] for i in ids if int(i) != PAD]
        if self.overlapping and kmers:
            return kmers[0] + "".join(kmer[-1] for kmer in kmers[1:])
        return "".join(kmers)

    def encode_batch(self, sequences: Sequence[str], length: int, source: str = "sequences") -> Encoded:
        """``sequences`` as ``length`` tokens each: truncated (first tokens kept) or right-padded with PAD; warns once
        with the count of ambiguity codes read as N (``source`` names the input in the warning)."""
        tokens = torch.full((len(sequences), length), PAD, dtype=torch.long)
        mask = torch.zeros(len(sequences), length, dtype=torch.bool)
        n_ambiguous, n_with = 0, 0
        for row, sequence in enumerate(sequences):
            ids = torch.from_numpy(self.encode(sequence)[:length])
            tokens[row, : len(ids)], mask[row, : len(ids)] = ids, True
            found = count_ambiguous(sequence)
            n_ambiguous, n_with = n_ambiguous + found, n_with + (found > 0)
        if n_ambiguous:
            warnings.warn(
                f"{source}: {n_ambiguous} IUPAC ambiguity code(s) ({' '.join(AMBIGUOUS)}) in {n_with} sequence(s) "
                "read as N",
                stacklevel=2,
            )
        return Encoded(tokens, mask, n_ambiguous)


def reverse_complement_tokens(tokens: Tensor, mask: Tensor, complement: Tensor) -> Tensor:
    """The reverse complement of right-padded ``tokens`` (B, T) with prefix ``mask`` (B, T), padding kept at the right;
    ``complement`` maps each id to its reverse complement's (``NucleotideTokenizer.complement``). For single bases and
    overlapping k-mers this is the encoding of the reverse-complemented sequence; for non-overlapping k-mers too when
    the length is a multiple of k."""
    positions = torch.arange(tokens.shape[1], device=tokens.device)
    lengths = mask.sum(dim=1, keepdim=True)
    flipped = tokens.gather(1, (lengths - 1 - positions).clamp(min=0))
    return torch.where(mask, complement.to(tokens.device)[flipped], PAD)
