"""Labelled sequences → encoded train/validation/test tensors: classes, length policy, stratified validation split.

The validation split is the benchmark's own dev split where it ships one (GUE), else carved from the training file
(stratified, seeded); the test file is only encoded, for the final evaluation. Their labels must be classes of the
training file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import Tensor
from torch.utils.data import TensorDataset

from genomics.readers import SequenceSet
from genomics.tokens import NucleotideTokenizer
from titans_ts.errors import DataError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ClassificationData:
    """Encoded splits: ``tokens[split]`` (N, length) int64 right-padded, ``mask[split]`` (N, length) bool, and
    ``labels[split]`` (N,) int64 indices into ``classes`` (the label texts, in sorted order: numeric when all labels
    are integers). ``max_bases`` is the sequence length (bases) the tokens hold; ``sources`` the files."""

    classes: list[str]
    tokenizer: NucleotideTokenizer
    max_bases: int
    tokens: dict[str, Tensor]
    mask: dict[str, Tensor]
    labels: dict[str, Tensor]
    sources: dict[str, str]

    @property
    def length(self) -> int:
        """Tokens per sequence."""
        return self.tokens["train"].shape[1]

    def dataset(self, split: str) -> TensorDataset:
        """(tokens, mask, label) triples of ``split`` ("train", "val" or "test")."""
        return TensorDataset(self.tokens[split], self.mask[split], self.labels[split])


def prepare_classification(
    train: SequenceSet,
    test: SequenceSet,
    tokenizer: NucleotideTokenizer,
    max_bases: int | None = None,
    truncate: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
    val: SequenceSet | None = None,
) -> ClassificationData:
    """Encode ``train``, ``test`` and the validation split: ``val`` when given (a benchmark's dev split), else a
    stratified ``val_fraction`` of ``train`` drawn with ``seed``.

    Sequences are padded to ``max_bases`` bases (default: the longest sequence of any split). A longer sequence
    raises DataError unless ``truncate``, which keeps its first ``max_bases`` bases. DataError too for a single class
    in ``train``, a validation or test label absent from ``train``, or a split that cannot be stratified.
    """
    if val is None and not 0.0 < val_fraction < 1.0:
        raise DataError(f"validation fraction must be in (0, 1); got {val_fraction}")
    classes = _classes(train)
    index = {label: i for i, label in enumerate(classes)}
    held = [part for part in (val, test) if part is not None]
    for part in held:
        for i, label in enumerate(part.labels):
            if label not in index:
                raise DataError(
                    f"{part.where(i)}: label {label!r} does not occur in {train.source}; its classes: "
                    f"{', '.join(classes)}"
                )
    if max_bases is None:
        max_bases = max(len(s) for part in (train, *held) for s in part.sequences)
    elif not truncate:
        for part in (train, *held):
            _check_lengths(part, max_bases)
    if val is None:
        fit, carved = _stratified_split(train.labels, train.source, val_fraction, seed, "validation")
        val, train = train.take(carved), train.take(fit)
    parts = {"train": train, "val": val, "test": test}
    length = tokenizer.n_tokens(max_bases)
    tokens, mask, labels = {}, {}, {}
    for split, part in parts.items():
        encoded = tokenizer.encode_batch(part.sequences, length, source=f"{part.source} ({split})")
        tokens[split], mask[split] = encoded.tokens, encoded.mask
        labels[split] = torch.tensor([index[label] for label in part.labels], dtype=torch.long)
    return ClassificationData(
        classes=classes,
        tokenizer=tokenizer,
        max_bases=max_bases,
        tokens=tokens,
        mask=mask,
        labels=labels,
        sources={split: part.source for split, part in parts.items()},
    )


def split_test(sequences: SequenceSet, test_fraction: float, seed: int) -> tuple[SequenceSet, SequenceSet]:
    """``sequences`` as (train, test): a stratified ``test_fraction`` held out with ``seed``, for a file that has no
    test file of its own. DataError for a single class or a split that cannot be stratified."""
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test fraction must be in (0, 1); got {test_fraction}")
    _classes(sequences)
    keep, held = _stratified_split(sequences.labels, sequences.source, test_fraction, seed, "test")
    return sequences.take(keep), sequences.take(held)


def _stratified_split(
    labels: Sequence[object], source: str, fraction: float, seed: int, what: str
) -> tuple[list[int], list[int]]:
    """Indices kept and held out (a ``fraction`` of each class of ``labels``, drawn with ``seed``); DataError naming the
    file ``source`` and the ``what`` split if scikit-learn cannot stratify it."""
    try:
        keep, held = train_test_split(np.arange(len(labels)), test_size=fraction, stratify=labels, random_state=seed)
    except ValueError as err:
        raise DataError(f"{source}: cannot carve a stratified {what} split of {fraction:g}: {err}") from None
    return keep.tolist(), held.tolist()


def _classes(train: SequenceSet) -> list[str]:
    """The sorted label texts of ``train`` (numerically when all are integers); DataError for fewer than two."""
    found = set(train.labels)
    if len(found) < 2:
        raise DataError(
            f"{train.source}: a single class ({next(iter(found))!r}) in {len(train)} sequences; "
            "classification needs at least two"
        )
    numeric = all(label.lstrip("-").isdigit() for label in found)
    return sorted(found, key=int) if numeric else sorted(found)


def _check_lengths(part: SequenceSet, max_bases: int) -> None:
    """DataError naming the first sequence of ``part`` longer than ``max_bases`` and how many are."""
    long = [i for i, s in enumerate(part.sequences) if len(s) > max_bases]
    if long:
        first = long[0]
        others = f" ({len(long) - 1} more)" if len(long) > 1 else ""
        raise DataError(
            f"{part.where(first)}: sequence of {len(part.sequences[first])} bases is longer than the maximum "
            f"{max_bases}{others}; pass --truncate to keep the first {max_bases} bases, or raise --max-length"
        )
