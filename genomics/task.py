"""``ClassificationTask``: a (tokens, mask) → logits classifier trained with Lightning on cross-entropy."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genomics.strands import random_reverse_complement

Batch = tuple[Tensor, Tensor, Tensor]  # tokens (B, T), mask (B, T), labels (B,)


class ClassificationTask(L.LightningModule):
    """Trains ``model`` with Adam at ``lr`` on cross-entropy; with ``complement`` (the tokenizer's), each training
    sequence is replaced by its reverse complement with probability 1/2. Logs ``train_loss`` per epoch and
    ``val_loss`` / ``val_accuracy`` over the whole validation split; ``predict_step`` gives class probabilities."""

    def __init__(self, model: nn.Module, lr: float = 1e-3, complement: Tensor | None = None) -> None:
        super().__init__()
        self.model, self.lr = model, lr
        self.register_buffer("complement", complement, persistent=False)

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
        accuracy = (logits.argmax(-1) == labels).float().mean()
        self.log("val_accuracy", accuracy, prog_bar=True, batch_size=len(labels))

    def predict_step(self, batch: Batch, batch_idx: int) -> Tensor:
        tokens, mask, _ = batch
        return self(tokens, mask).softmax(-1)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)
