"""``titans-ts classify`` end to end with tiny models on generated planted-motif sequences: learning the motif, the
MLflow run, --summary-json, --resume after a crash, a diverging model stopped with its own error, the held-out test
split of a single FASTA file, and every bad input as one line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from pipeline_runs import crash_in_second_epoch, finished_run, write_csv

from genomics.make_demo import planted_motif
from genomics.readers import read_table
from genomics.task import ClassificationTask
from genomics.tokens import NucleotideTokenizer
from pipelines import classify
from pipelines.artifacts import PREDICTIONS
from pipelines.cli import build_parser, main, parse
from titans_ts.training.tracking import file_sha256

TINY = {
    "model": "lmm", "d_model": 16, "n_layers": 1, "n_heads": 2, "memory_depth": 1, "chunk_size": 4,
    "n_persistent": 2, "batch_size": 32, "lr": 0.005, "baseline_lr": 0.001, "pooling": "attention",
}  # fmt: skip
TINY_ARGS = [token for key, value in TINY.items() for token in (f"--{key.replace('_', '-')}", str(value))]
SUMMARY_KEYS = {
    "dataset", "model", "test_accuracy", "test_f1", "test_mcc", "baseline_test_accuracy", "epochs", "train_seconds",
    "mlflow_run_id",
}  # fmt: skip


def classify_cli(*argv: str) -> int:
    return main(["classify", *argv])


@pytest.fixture(scope="module")
def motif_run(workdir: Path) -> dict[str, Any]:
    """Train and test on 900 / 200 generated sequences: options from a YAML config, epochs from the command line."""
    train, test = write_csv(workdir / "motif.csv", 900, seed=1), write_csv(workdir / "motif_test.csv", 200, seed=2)
    config = workdir / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, "epochs": 9}))
    out = workdir / "motif.json"
    argv = ["--data", str(train), "--test-data", str(test), "--config", str(config), "--epochs", "4"]
    assert classify_cli(*argv, "--run-dir", "motif", "--summary-json", str(out)) == 0
    return json.loads(out.read_text())


def test_learns_the_planted_motif(motif_run: dict[str, Any]) -> None:
    assert SUMMARY_KEYS <= motif_run.keys()
    assert (motif_run["dataset"], motif_run["model"], motif_run["epochs"]) == ("motif", "lmm", 4)
    assert motif_run["test_accuracy"] >= 0.85, motif_run
    assert motif_run["baseline_test_accuracy"] < motif_run["test_accuracy"] and motif_run["train_seconds"] > 0


def test_mlflow_run_contents(workdir: Path, motif_run: dict[str, Any]) -> None:
    run_id = motif_run["mlflow_run_id"]
    run = finished_run(run_id, "classify/motif")
    client = mlflow.MlflowClient()
    params = run.data.params
    assert params["d_model"] == "16" and params["epochs"] == "4" and params["model"] == "lmm"
    assert params["backbone.variant"] == "lmm" and params["backbone.chunk_size"] == "4"
    assert params["classes"] == "0,1" and params["sequences_test"] == "200" and params["sequences_val"] == "90"
    every_option = {"kmer", "kmer_overlap", "max_length", "truncate", "rc_augment", "rc_average", "pooling",
                    "theta_max", "lr", "baseline_lr", "seed", "val_fraction", "test_fraction", "config"}  # fmt: skip
    assert every_option <= set(params)
    tags = run.data.tags
    assert tags["data_sha256"] == file_sha256(workdir / "motif.csv")
    assert tags["test_data_sha256"] == file_sha256(workdir / "motif_test.csv")
    assert len(tags["git_commit"].removesuffix("-dirty")) in (40, len("unknown"))
    for name in ("train_loss", "val_loss", "val_accuracy", "val_mcc", "baseline_train_loss", "baseline_val_mcc"):
        assert [m.step for m in client.get_metric_history(run_id, name)] == [0, 1, 2, 3], name
    metrics = run.data.metrics
    for name in ("test_accuracy", "test_f1", "test_mcc", "test_auroc", "baseline_test_accuracy", "baseline_test_mcc"):
        assert np.isfinite(metrics[name]), name
    assert metrics["test_accuracy"] == pytest.approx(motif_run["test_accuracy"])
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"config.yaml", "confusion_matrix.png", "config_file", PREDICTIONS} <= artifacts
    predictions = pd.read_parquet(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/{PREDICTIONS}"))
    assert list(predictions.columns) == ["label", "titans", "gb_cnn"] and len(predictions) == 200
    assert (predictions["label"] == predictions["titans"]).mean() == pytest.approx(motif_run["test_accuracy"])
    assert (predictions["label"] == predictions["gb_cnn"]).mean() == pytest.approx(motif_run["baseline_test_accuracy"])
    config = yaml.safe_load(mlflow.artifacts.load_text(f"runs:/{run_id}/config.yaml"))
    assert config["d_model"] == 16 and config["pooling"] == "attention" and "run_dir" not in config
    (logged,) = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")
    assert logged.source_run_id == run_id
    model = mlflow.pytorch.load_model(logged.model_uri)  # tokens → probabilities of the tested (best) checkpoint
    test = read_table(workdir / "motif_test.csv")
    probabilities = model(NucleotideTokenizer().encode_batch(test.sequences, 64).tokens)
    assert probabilities.shape == (200, 2) and torch.allclose(probabilities.sum(1), torch.ones(200))
    accuracy = (probabilities.argmax(1) == torch.tensor([int(y) for y in test.labels])).float().mean()
    assert float(accuracy) == pytest.approx(motif_run["test_accuracy"])


def test_resume_continues_a_killed_run(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train = write_csv(workdir / "short.csv", 200, seed=3)
    argv = ["--data", str(train), "--epochs", "2", "--run-dir", "resumed", *TINY_ARGS]
    crash_in_second_epoch(monkeypatch, ClassificationTask)
    with pytest.raises(RuntimeError, match="killed"):
        classify_cli(*argv)
    monkeypatch.undo()
    checkpoints = workdir / "resumed" / "titans"
    first = torch.load(checkpoints / "last.ckpt", weights_only=False)
    assert first["epoch"] == 0
    run_id = (workdir / "resumed" / "mlflow_run_id").read_text()
    assert mlflow.get_run(run_id).info.status == "FAILED"

    out = workdir / "resumed.json"  # the options come back from the run folder: --data, --epochs and the tiny model
    assert classify_cli("--resume", "--run-dir", "resumed", "--summary-json", str(out)) == 0
    result = json.loads(out.read_text())
    assert result["epochs"] == 2 and result["mlflow_run_id"] == run_id
    last = torch.load(checkpoints / "last.ckpt", weights_only=False)
    assert last["epoch"] == 1 and last["global_step"] == 2 * first["global_step"]
    assert [m.step for m in mlflow.MlflowClient().get_metric_history(run_id, "train_loss")] == [0, 1]
    assert mlflow.get_run(run_id).info.status == "FINISHED"
    assert classify_cli(*argv, "--resume", "--summary-json", str(out)) == 0  # a finished run is kept as it is
    assert json.loads(out.read_text()) == result


def test_non_finite_loss_stops_with_one_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    train = write_csv(workdir / "diverge.csv", 200, seed=4)
    original = ClassificationTask.training_step
    monkeypatch.setattr(ClassificationTask, "training_step", lambda *a: original(*a) * float("nan"))
    assert classify_cli("--data", str(train), "--epochs", "1", "--run-dir", "diverged", *TINY_ARGS) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        "titans-ts classify: error: training loss became nan at epoch 0, batch 0; lower the learning rate, "
        "theta_max or chunk_size"
    )
    run_id = (workdir / "diverged" / "mlflow_run_id").read_text()
    assert mlflow.get_run(run_id).info.status == "FAILED"


def test_fasta_without_test_file_holds_out_a_stratified_split(workdir: Path) -> None:
    sequences, labels = planted_motif(100, 60, seed=5, motifs=("TATAAA", "GGGCGG"), multiclass=True)
    fasta = workdir / "reads.fa"
    fasta.write_text("".join(f">r{i} label={y}\n{s[:30].lower()}\n{s[30:]}\n" for i, (s, y) in
                             enumerate(zip(sequences, labels))))  # fmt: skip
    args = parse(build_parser(), ["classify", "--data", str(fasta), "--test-fraction", "0.3", "--kmer", "1"])
    job = classify.plan(args, vars(args))
    counts = {split: np.bincount(job.data.labels[split].numpy()).tolist() for split in ("train", "val", "test")}
    assert job.dataset == "reads" and job.data.classes == ["0", "1", "2"]
    assert sum(counts["test"]) == 30 and max(counts["test"]) - min(counts["test"]) <= 1
    assert sum(counts["train"]) + sum(counts["val"]) == 70
    again = classify.plan(args, vars(args))
    assert torch.equal(again.data.tokens["test"], job.data.tokens["test"])


def gzipped_csv(path: Path, n: int, seed: int) -> Path:
    """``n`` planted-motif sequences of 64 bases as a gzipped ``seq,label`` CSV, as GUE ships its splits."""
    sequences, labels = planted_motif(n, 64, seed=seed, motifs=("TATAAA",))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("seq,label\n" + "".join(f"{s},{y}\n" for s, y in zip(sequences, labels))).encode()))
    return path


def test_a_dataset_with_a_dev_split_validates_on_it(workdir: Path) -> None:
    """``--dataset`` of a GUE-style folder: dev.csv.gz is the validation split, nothing is carved from train, and the
    run records all three files; with k-mers for Titans the CNN gets the same splits in single bases."""
    folder = workdir / "genomic" / "gue_toy"
    train, dev, test = (gzipped_csv(folder / f"{split}.csv.gz", n, seed) for split, n, seed in
                        (("train", 120, 1), ("dev", 30, 2), ("test", 40, 3)))  # fmt: skip
    argv = ["classify", "--dataset", "gue_toy", "--data-dir", str(workdir / "genomic"), "--kmer", "3", "--kmer-overlap"]
    args = parse(build_parser(), argv)
    job = classify.plan(args, vars(args))
    assert {split: len(job.data.labels[split]) for split in ("train", "val", "test")} == {"train": 120, "val": 30,
                                                                                           "test": 40}  # fmt: skip
    assert job.files == {"data": train, "test_data": test, "dev_data": dev} and job.data.sources["val"] == str(dev)
    expected = torch.tensor([int(y) for y in read_table(dev).labels])
    assert torch.equal(job.data.labels["val"], expected)
    # Titans reads overlapping 3-mers (62 tokens), the CNN the same splits in single bases (64), as published
    titans, cnn = job.data, job.baseline_data
    assert (titans.tokenizer.k, titans.length, cnn.tokenizer.k, cnn.length) == (3, 62, 1, 64)
    assert all(torch.equal(cnn.labels[split], titans.labels[split]) for split in ("train", "val", "test"))


def test_run_names_of_files() -> None:
    """A file named after a split takes its folder's name too, so two benchmarks' test files do not share runs."""
    assert classify.dataset_name(Path("data/reads.fa.gz")) == "reads"
    assert classify.dataset_name(Path("genomic/human_enhancers_cohn/test.csv.gz")) == "human_enhancers_cohn-test"


def test_quick_and_config_presets(tmp_path: Path) -> None:
    """Defaults < --quick < config file < command-line flags."""
    config = tmp_path / "run.toml"
    config.write_text("quick = true\nlr = 0.01\nepochs = 9\n")
    args = parse(build_parser(), ["classify", "--config", str(config), "--epochs", "1"])
    assert (args.d_model, args.n_layers, args.max_train_batches, args.lr, args.epochs) == (32, 1, 60, 0.01, 1)
    assert (args.dataset, args.model, args.chunk_size, args.theta_max, args.eta_max) == (None, "lmm", 16, 0.1, 0.9)
    assert args.memory_update == "stable"
    assert (args.pooling, args.threads) == ("attention", 1)


def bad_file(workdir: Path, name: str, text: str) -> str:
    path = workdir / name
    path.write_text(text)
    return str(path)


BAD_INPUTS = {
    "empty-file": (lambda d: ["--data", bad_file(d, "empty.csv", "")], "empty.csv: empty file"),
    "bad-character": (
        lambda d: ["--data", bad_file(d, "bad.csv", "seq,label\nACGT,0\nACXT,1\n")],
        "bad.csv: line 3: character outside the DNA alphabet: 'X' at position 3",
    ),
    "single-class": (
        lambda d: ["--data", bad_file(d, "one.csv", "seq,label\n" + "ACGT,a\n" * 10)],
        "one.csv: a single class ('a') in 10 sequences; classification needs at least two",
    ),
    "no-label-column": (
        lambda d: ["--data", bad_file(d, "nolabel.csv", "seq,kind\nACGT,0\n")],
        "nolabel.csv: label column missing (looked for label, labels, class, target, y); columns: seq, kind",
    ),
    "too-long": (
        lambda d: ["--data", str(write_csv(d / "long.csv", 40, 6)), "--test-data", str(d / "long.csv"),
                   "--max-length", "60"],  # fmt: skip
        "long.csv: line 2: sequence of 64 bases is longer than the maximum 60 (39 more); "
        "pass --truncate to keep the first 60 bases, or raise --max-length",
    ),
    "too-short-for-cnn": (
        lambda d: ["--data", bad_file(d, "short.csv", "seq,label\n" + "ACGTACGTAC,0\nTTTTAAAACC,1\n" * 20)],
        "short.csv: sequences of 10 bases, but the Genomic Benchmarks CNN baseline needs at least 57; "
        "pass --max-length 57 to pad the sequences",
    ),
    "unknown-dataset": (lambda d: ["--dataset", "nope"], "unknown genomic data set 'nope'; available: demo"),
    "test-data-alone": (
        lambda d: ["--test-data", "x.csv"],
        "--test-data, --labels, --sequence-column and --label-column need --data",
    ),
    "test-only-dataset": (
        lambda d: ["--dataset", "cohn", "--data-dir", str(gzipped_csv(d / "only/cohn/test.csv.gz", 20, 4).parents[1])],
        "cohn: no train.csv.gz, only test.csv.gz: this benchmark's training split is not available here; to learn from "
        "the test file alone, split it: --data ",
    ),
    "missing-file": (lambda d: ["--data", str(d / "missing.fa")], "missing.fa: no such file"),
    "used-run-dir": (lambda d: ["--run-dir", str(d)], "is not empty; pass --resume to continue it"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_line(workdir: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    argv, message = BAD_INPUTS[case]
    assert classify_cli(*argv(workdir)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("titans-ts classify: error: "), err
    assert message in err and "Traceback" not in err
