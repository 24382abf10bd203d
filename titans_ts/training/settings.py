"""``TrainSettings``: how the estimator or a pipeline trains its models, checked on construction (no Lightning import,
so that the command line can validate options before the heavy libraries load)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

LOSSES = ("mse", "mae", "huber")
LR_SCHEDULES = ("constant", "halving", "cosine")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainSettings:
    """How to train, one line per field (the command line's help text is read from here; ``choices`` in a field's
    metadata are its allowed values). ValueError for a bad value, or for "cuda" on a machine without CUDA.

    lr:                Adam learning rate.
    batch_size:        training examples (windows, sequences) per batch.
    epochs:            most epochs.
    patience:          stop after this many epochs without a better validation score.
    loss:              training loss (forecasting only; classification trains on cross-entropy).
    max_train_batches: train on at most this many batches per epoch (default None: all); validation and test use all.
    device:            "auto" (CUDA when torch sees it, else CPU), "cpu" or "cuda".
    lr_schedule:       learning rate per epoch: "constant", "halving" (lr·0.5^e in epoch e, Time-Series-Library's
                       "type1") or "cosine" (annealed to 0 over ``epochs``).
    threads:           torch CPU threads (default None: torch's choice, one per core); on a small or busy machine 1
                       is often several times faster for small models.
    max_minutes:       stop training after this many minutes of wall-clock (default None: no limit); the best
                       checkpoint so far is the one tested.
    train_online:      online-aware training (forecasting only): train on streams of this many blocks of lookback rows,
                       every memory carried from block to block as at test time (0: every window from M_0).
    tbptt_blocks:      with train_online, blocks per training step: backprop runs through the memories carried over
                       this many blocks, then the state goes on detached (truncated backprop through time).
    """

    lr: float = 1e-3
    batch_size: int = 32
    epochs: int = 10
    patience: int = 3
    loss: str = field(default="mse", metadata={"choices": LOSSES})
    max_train_batches: int | None = None
    device: str = field(default="auto", metadata={"choices": DEVICES})
    lr_schedule: str = field(default="constant", metadata={"choices": LR_SCHEDULES})
    threads: int | None = None
    max_minutes: float | None = None
    train_online: int = 0
    tbptt_blocks: int = 4

    def __post_init__(self) -> None:
        for name, choices in (("loss", LOSSES), ("lr_schedule", LR_SCHEDULES), ("device", DEVICES)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}; got {getattr(self, name)!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device cuda requested, but torch sees no CUDA device")
        for name in ("batch_size", "epochs", "max_train_batches", "threads", "tbptt_blocks"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be ≥ 1; got {value}")
        if self.train_online < 0:
            raise ValueError(f"train_online must be ≥ 0 (0: off); got {self.train_online}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be > 0; got {self.max_minutes}")
        if self.patience < 0 or self.lr <= 0:
            raise ValueError(f"patience must be ≥ 0 and lr > 0; got {self.patience} and {self.lr}")

    @property
    def accelerator(self) -> str:
        """Lightning's accelerator: "gpu" for "cuda", and for "auto" when CUDA is present; else "cpu"."""
        cuda = self.device == "cuda" or (self.device == "auto" and torch.cuda.is_available())
        return "gpu" if cuda else "cpu"
