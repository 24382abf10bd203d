"""``fit_classifier``: a sequence classifier run through the one fit of ``titans_ts.training.fit`` (best checkpoint on
validation MCC), as ``titans_ts.forecasting.task.fit_forecaster`` runs a forecaster.

Lightning is imported on the first fit, not with this module, so that ``titans-ts classify --help`` and bad-input
errors do not wait for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from genomics.dataset import ClassificationData
from genomics.strands import StrandAveraged

if TYPE_CHECKING:
    import lightning as L

    from titans_ts.training.fit import FitResult
    from titans_ts.training.settings import TrainSettings

MONITOR = "val_mcc"  # early stopping, the tested checkpoint and ``tune classify`` maximise it (GUE's headline metric)


def strand_classifier(model: nn.Module, data: ClassificationData, rc_average: bool) -> nn.Module:
    """``model`` as trained, validated and tested: with ``rc_average``, strand-averaged in eval mode (the mean class
    probabilities of a sequence and its reverse complement under ``data``'s tokenizer)."""
    return StrandAveraged(model, data.tokenizer.complement) if rc_average else model


def fit_classifier(
    model: nn.Module,
    data: ClassificationData,
    settings: TrainSettings,
    checkpoints: Path,
    resume: bool = False,
    callbacks: list[L.Callback] | None = None,
    *,
    rc_augment: bool = False,
    rc_average: bool = False,
    test: bool = True,
) -> FitResult:
    """Train ``model`` on ``data``'s train split (each sequence replaced by its reverse complement with probability
    1/2 with ``rc_augment``; validated and tested strand-averaged with ``rc_average``), keep the checkpoint of the
    best validation MCC (``score``), and predict the test split's class probabilities with it (with ``test=False``,
    tuning, the test split is left alone)."""
    from genomics.task import ClassificationTask
    from titans_ts.training.fit import fit_and_predict

    complement = data.tokenizer.complement if rc_augment else None
    task = ClassificationTask(strand_classifier(model, data, rc_average), settings, complement)
    splits = {split: data.dataset(split) for split in ("train", "val", "test")[: 3 if test else 2]}
    return fit_and_predict(task, splits, settings, checkpoints, MONITOR, "max", resume, callbacks)
