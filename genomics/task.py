"""``ClassificationTask``: a (tokens, mask) → logits classifier trained with Lightning on cross-entropy."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from sklearn.metrics import matthews_corrcoef
from torch import Tensor, nn

from genomics.strands import random_reverse_complement
from titans_ts.training.schedule import adam_with_schedule
from titans_ts.training.settings import TrainSettings

Batch = tuple[Tensor, Tensor, Tensor]  # tokens (B, T), mask (B, T), labels (B,)


class ClassificationTask(L.LightningModule):
    """Trains ``model`` on cross-entropy with Adam at ``settings.lr`` and its ``lr_schedule``; with ``complement``
    (the tokenizer's), each training sequence is replaced by its reverse complement with probability 1/2. Logs
    ``train_loss`` per epoch, and ``val_loss``, ``val_accuracy`` and ``val_mcc`` (Matthews correlation) over the whole
    validation split; ``predict_step`` gives class probabilities."""

    def __init__(self, model: nn.Module, settings: TrainSettings, complement: Tensor | None = None) -> None:
        super().__init__()
        self.model, self.settings = model, settings
        self.register_buffer("complement", complement, persistent=False)
        self._val_labels: list[Tensor] = []
        self._val_predicted: list[Tensor] = []

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        return self.model(tokens, mask)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        tokens, mask, labels = batch
        if self.complement is not None:
            tokens = random_reverse_complement(tokens, mask, self.complement)
        loss = F.cross_entropy(self(tokens, mask), labels)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(labels))
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        tokens, mask, labels = batch
        logits = self(tokens, mask)
        self.log("val_loss", F.cross_entropy(logits, labels), prog_bar=True, batch_size=len(labels))
        self._val_labels.append(labels.cpu())
        self._val_predicted.append(logits.argmax(-1).cpu())

    def on_validation_epoch_end(self) -> None:
        labels, predicted = torch.cat(self._val_labels), torch.cat(self._val_predicted)
        self._val_labels.clear()
        self._val_predicted.clear()
        self.log("val_accuracy", (predicted == labels).float().mean(), prog_bar=True)
        self.log("val_mcc", float(matthews_corrcoef(labels.numpy(), predicted.numpy())), prog_bar=True)

    def predict_step(self, batch: Batch, batch_idx: int) -> Tensor:
        tokens, mask, _ = batch
        return self(tokens, mask).softmax(-1)

    def configure_optimizers(self) -> dict[str, Any]:
        return adam_with_schedule(self.parameters(), self.settings)
