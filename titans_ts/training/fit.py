"""The one Lightning fit of titans-ts (the estimator and every pipeline): train a task on its train split, keep the
best checkpoint on a validation metric, stop early (or at ``settings.max_minutes``), resume, and predict the test
split with the best checkpoint.

Train batches are shuffled, in an order drawn per epoch from the seed set before the fit, and every epoch's dropout
draws restart from that seed + epoch: a fit resumed from ``last.ckpt`` ends where an uninterrupted one does.
Validation and test keep their order and none is dropped. The checkpoint directory holds
``last.ckpt`` (written after every epoch, the one ``resume`` continues from) and ``best.ckpt`` (best value of the
monitored metric, which early stopping watches too). A non-finite training loss stops the fit with ``NonFiniteLoss``,
a ``last.ckpt`` that cannot be read with ``UnreadableCheckpoint`` (both ``FitError``).
"""

from __future__ import annotations

import datetime
import logging
import math
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader, Dataset, Sampler

from titans_ts.training.settings import TrainSettings


@dataclass(frozen=True)
class FitResult:
    """``predictions``: the best checkpoint's ``predict_step`` outputs over the test split, concatenated (None when no
    test split was given); ``score``: its
    value of the monitored metric; ``epochs``: epochs trained in all (resumed ones included); ``seconds``: training
    wall-clock in all (that of the checkpoint a resumed fit started from included)."""

    predictions: np.ndarray | None
    score: float
    epochs: int
    seconds: float


class TrainingClock(L.Callback):
    """Training wall-clock that survives a resume: ``seconds`` counts since the fit started plus what the checkpoint
    it resumed from had counted (kept in every checkpoint as this callback's state)."""

    def __init__(self) -> None:
        self.before = 0.0
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.before + time.perf_counter() - self.started

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.perf_counter()

    def state_dict(self) -> dict[str, float]:
        return {"seconds": self.seconds}

    def load_state_dict(self, state_dict: dict[str, float]) -> None:
        self.before = state_dict["seconds"]


class EpochShuffle(Sampler[int]):
    """A permutation of range(n) from its own generator seeded with ``seed`` + epoch (``set_epoch``, which Lightning
    calls before every epoch): a fit resumed from a checkpoint reads the batches of one never interrupted."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=generator).tolist())

    def __len__(self) -> int:
        return self.n


class EpochSeeds(L.Callback):
    """Every training epoch starts from torch's global generator seeded with (the seed set before the fit) + epoch, so
    that a fit resumed from a checkpoint draws the dropout masks of one never interrupted."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        torch.manual_seed(self.seed + trainer.current_epoch)


class EpochLines(L.Callback):
    """One line per epoch on stderr (``DLinear epoch 3/10: train_loss 0.431 val_mse 0.688 | 41 s``): the progress
    shown when stderr is not a terminal, where progress bars would fill a log with carriage returns."""

    def __init__(self, clock: TrainingClock) -> None:
        self.clock = clock

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        model = type(getattr(pl_module, "model", pl_module)).__name__
        metrics = " ".join(f"{name} {float(value):.4g}" for name, value in sorted(trainer.callback_metrics.items()))
        epochs = f"{trainer.current_epoch + 1}/{trainer.max_epochs}"
        print(f"{model} epoch {epochs}: {metrics} | {self.clock.seconds:.0f} s", file=sys.stderr, flush=True)


class FitError(RuntimeError):
    """A fit that cannot go on, for a reason the message states in one line."""


class NonFiniteLoss(FitError):
    """The training loss became NaN or infinite."""


class UnreadableCheckpoint(FitError):
    """The checkpoint a fit would resume from cannot be read (a crash while writing it, a damaged disk)."""


def _readable(path: Path) -> Path:
    """``path`` after checking that torch can load it; ``UnreadableCheckpoint`` naming it otherwise."""
    try:
        torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a damaged file fails in pickle, zip or torch in many ways
        reason = next(iter(str(err).splitlines()), "") or type(err).__name__
        raise UnreadableCheckpoint(
            f"{path} cannot be read ({type(err).__name__}: {reason[:200]}); delete it to train this model again from "
            "its first epoch"
        ) from err
    return path


class FiniteLoss(L.Callback):
    """Raise ``NonFiniteLoss`` (naming the epoch and batch) as soon as a training step's loss is not finite, so that
    a diverged model is never selected, tested or logged as if it had trained."""

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = float(outputs["loss"] if isinstance(outputs, Mapping) else outputs)
        if not math.isfinite(loss):
            raise NonFiniteLoss(
                f"training loss became {loss} at epoch {trainer.current_epoch}, batch {batch_idx}; lower the learning "
                "rate, theta_max or chunk_size"
            )


def fit_and_predict(
    task: L.LightningModule,
    splits: Mapping[str, Dataset],
    settings: TrainSettings,
    checkpoints: Path,
    monitor: str,
    mode: Literal["min", "max"],
    resume: bool = False,
    callbacks: list[L.Callback] | None = None,
) -> FitResult:
    """Train ``task`` on ``splits["train"]`` (resuming from ``checkpoints/last.ckpt`` when ``resume`` and it exists),
    keep the checkpoint of the best validation ``monitor`` (``mode`` "min" or "max") over ``splits["val"]``, and
    predict ``splits["test"]`` with it, if there is one (on ``settings.threads`` CPU threads when set). The train split
    is shuffled unless its dataset says ``ordered = True`` (stateful streams, ``forecasting.streams``). Progress: bars
    on a terminal, else one line per epoch; Lightning's informational lines (accelerator, seed, tips) are not shown."""
    if settings.threads:
        torch.set_num_threads(settings.threads)
    seed = torch.initial_seed()  # the seed set before the fit: the same in a resumed fit
    shuffled = not getattr(splits["train"], "ordered", False)
    loader = {
        split: DataLoader(
            splits[split],
            batch_size=settings.batch_size,
            sampler=EpochShuffle(len(splits[split]), seed) if split == "train" and shuffled else None,
            generator=torch.Generator().manual_seed(seed),  # not torch's global one, which EpochSeeds owns
        )
        for split in splits
    }
    best = ModelCheckpoint(
        dirpath=checkpoints,
        filename="best",
        monitor=monitor,
        mode=mode,
        save_last=True,
        enable_version_counter=False,
    )
    stopping = EarlyStopping(monitor=monitor, mode=mode, patience=settings.patience)
    clock = TrainingClock()
    terminal = sys.stderr.isatty()
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)  # before the Trainer: its tip
    trainer = L.Trainer(
        accelerator=settings.accelerator,
        devices=1,
        max_epochs=settings.epochs,
        limit_train_batches=settings.max_train_batches,
        max_time=datetime.timedelta(minutes=settings.max_minutes) if settings.max_minutes else None,
        callbacks=[best, stopping, clock, EpochSeeds(seed), FiniteLoss(), *([] if terminal else [EpochLines(clock)])]
        + list(callbacks or []),
        deterministic="warn",
        logger=False,
        default_root_dir=checkpoints,
        enable_model_summary=False,
        enable_progress_bar=terminal,
    )
    last = checkpoints / "last.ckpt"
    with warnings.catch_warnings():
        # Lightning's own deprecation (torch's pytree API), shown on every fit, is not the user's to act on.
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
        start = _readable(last) if resume and last.is_file() else None
        trainer.fit(task, loader["train"], loader["val"], ckpt_path=start)
        seconds = clock.seconds
        test = loader.get("test")
        batches = None if test is None else trainer.predict(task, test, ckpt_path=best.best_model_path)
    return FitResult(
        predictions=None if batches is None else torch.cat(batches).cpu().numpy(),
        score=float(best.best_model_score),
        epochs=trainer.current_epoch,
        seconds=seconds,
    )
