"""Training pieces of the classification pipeline: the Lightning task (losses and validation MCC logged, learning-rate
schedule, probabilities predicted, reverse-complement augmentation), the scikit-learn metrics and the confusion-matrix
figure."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from sklearn.metrics import matthews_corrcoef
from torch.utils.data import DataLoader

from genomics.baseline import GenomicBenchmarksCNN
from genomics.dataset import prepare_classification
from genomics.make_demo import planted_motif
from genomics.metrics import classification_metrics
from genomics.readers import SequenceSet
from genomics.task import ClassificationTask
from genomics.tokens import NucleotideTokenizer
from pipelines.figures import plot_confusion
from titans_ts.training.settings import TrainSettings


def test_metrics_binary_and_multiclass() -> None:
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 1])
    metrics = classification_metrics(labels, probabilities, prefix="test_")
    assert metrics == pytest.approx({"test_accuracy": 0.75, "test_f1": 11 / 15, "test_mcc": 1 / np.sqrt(3),
                                     "test_auroc": 1.0})  # fmt: skip
    three = np.eye(3)[[0, 1, 2, 2]] * 0.7 + 0.1
    assert classification_metrics(np.array([0, 1, 2, 1]), three) == pytest.approx(
        {"accuracy": 0.75, "f1": (1 + 2 / 3 + 2 / 3) / 3, "mcc": 7 / 10, "auroc": (1 + 3 / 4 + 5 / 6) / 3}
    )
    assert np.isnan(classification_metrics(np.array([1, 1]), probabilities[:2])["auroc"])


def test_confusion_panels_count(tmp_path: Path) -> None:
    labels = np.array([0, 1, 1, 1])
    predicted = {"Titans": np.array([0, 0, 1, 1]), "CNN": np.array([1, 1, 1, 1])}
    figure = plot_confusion(labels, predicted, ["neg", "pos"], "demo, mag")
    titans, cnn = figure.axes
    assert figure.get_suptitle() == "demo, mag" and (titans.get_title(), cnn.get_title()) == ("Titans", "CNN")
    assert [t.get_text() for t in titans.texts] == ["1", "0", "1", "2"]
    assert [t.get_text() for t in cnn.texts] == ["0", "1", "0", "3"]
    assert [t.get_text() for t in titans.get_xticklabels()] == ["neg", "pos"]
    figure.savefig(tmp_path / "confusion.png")


def test_task_trains_logs_and_predicts_probabilities(tmp_path: Path) -> None:
    torch.manual_seed(0)
    sequences, labels = planted_motif(240, 64, seed=5, motifs=("GGGCGG",))
    text = [str(y) for y in labels]
    train = SequenceSet(sequences[:200], text[:200], list(range(2, 202)), None, "train.csv")
    test = SequenceSet(sequences[200:], text[200:], list(range(2, 42)), None, "test.csv")
    tokenizer = NucleotideTokenizer()
    data = prepare_classification(train, test, tokenizer, val_fraction=0.2, seed=0)
    cnn = GenomicBenchmarksCNN(tokenizer.vocab_size, 2, data.length)
    task = ClassificationTask(cnn, TrainSettings(lr_schedule="cosine", epochs=2), tokenizer.complement)
    trainer = L.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path)  # fmt: skip
    loaders = {split: DataLoader(data.dataset(split), batch_size=32, shuffle=split == "train") for split in data.tokens}
    trainer.fit(task, loaders["train"], loaders["val"])
    assert {"train_loss", "val_loss", "val_accuracy", "val_mcc"} <= set(trainer.callback_metrics)
    val_tokens, val_mask, val_labels = data.tokens["val"], data.mask["val"], data.labels["val"]
    with torch.no_grad():
        predicted = task.eval()(val_tokens, val_mask).argmax(-1)
    expected = matthews_corrcoef(val_labels.numpy(), predicted.numpy())
    assert float(trainer.callback_metrics["val_mcc"]) == pytest.approx(expected, abs=1e-6)
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # cosine over 2 epochs
    probabilities = torch.cat(trainer.predict(task, loaders["test"]))
    assert probabilities.shape == (40, 2) and torch.allclose(probabilities.sum(-1), torch.ones(40))


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_augmentation_reverse_complements_training_batches() -> None:
    tokenizer = NucleotideTokenizer()
    seen: list[torch.Tensor] = []

    class Recorder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bias = torch.nn.Parameter(torch.zeros(2))

        def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            seen.append(tokens)
            return self.bias.expand(len(tokens), 2)

    encoded = tokenizer.encode_batch(["AAAAAAAC"] * 64, 8)
    batch = (encoded.tokens, encoded.mask, torch.zeros(64, dtype=torch.long))
    ClassificationTask(Recorder(), TrainSettings(), tokenizer.complement).training_step(batch, 0)
    flipped = (seen[0] == tokenizer.encode_batch(["GTTTTTTT"], 8).tokens).all(1)
    unchanged = (seen[0] == encoded.tokens).all(1)
    assert (flipped | unchanged).all() and 0 < flipped.sum() < 64
    ClassificationTask(Recorder(), TrainSettings()).training_step(batch, 0)
    assert torch.equal(seen[1], encoded.tokens)
