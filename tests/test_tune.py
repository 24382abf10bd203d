"""``titans-ts tune forecast`` and ``tune classify``: Optuna studies on the sqlite defaults, on a real PostgreSQL server
shared by two worker processes, and logged to a real MLflow tracking server; tiny models so that each trial takes
seconds."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import optuna
import pytest
import yaml

from genomics.make_demo import planted_motif
from pipelines import tune
from pipelines.cli import build_parser, main, parse

SPACE = {
    "model": {"type": "categorical", "choices": ["lmm", "mag"]},
    "d_model": 8, "n_layers": 1, "memory_depth": 1, "chunk_size": 16, "window": 16, "dropout": 0.0,
    "lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
}
TINY = ["--n-heads", "2", "--epochs", "2", "--max-train-batches", "2", "--batch-size", "256", "--patience", "5",
        "--device", "cpu"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder holding the search space; the default stores optuna.db and mlflow.db land here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(SPACE))
    return tmp_path


def local_store(folder: Path) -> str:
    """The URI of the default MLflow store in ``folder`` (absolute: MLflow caches stores by URI)."""
    return f"sqlite:///{folder / 'mlflow.db'}"


def children(client: mlflow.MlflowClient, parent: str) -> list:
    experiment = client.get_run(parent).info.experiment_id
    return client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent}'")


def test_sqlite_defaults_end_to_end(workdir: Path) -> None:
    """Default storages, nested runs, parent summary, and --best-to re-run by forecast --config."""
    argv = ["tune", "forecast", *TINY, "--trials", "3", "--search-space", "space.yaml", "--best-to", "best.yaml"]
    assert main(argv) == 0
    study = optuna.load_study(study_name="forecast-ETTh1-H96", storage="sqlite:///optuna.db")
    assert sorted(t.number for t in study.trials) == [0, 1, 2]
    client = mlflow.MlflowClient(local_store(workdir))
    parent = study.user_attrs[tune.PARENT_RUN_KEY]
    summary = client.get_run(parent)
    assert summary.data.metrics["best_val_mse"] == pytest.approx(study.best_value)
    assert summary.data.tags["best_trial"] == str(study.best_trial.number)
    assert summary.data.tags["best.lr"] == str(study.best_params["lr"])
    assert {"optimization_history.png", "param_importances.png"} <= {a.path for a in client.list_artifacts(parent)}
    runs = children(client, parent)
    assert sorted(r.data.tags["optuna.trial"] for r in runs) == ["0", "1", "2"]
    for run in runs:
        assert run.data.params["trial"] == run.data.tags["optuna.trial"]
        assert run.data.tags["optuna.state"] == "COMPLETE"
        assert len(client.get_metric_history(run.info.run_id, "val_mse")) == 2  # one point per epoch
    best = yaml.safe_load(Path("best.yaml").read_text())
    assert best["lr"] == study.best_params["lr"] and best["d_model"] == 8
    assert main(["forecast", "--config", "best.yaml", "--summary-json", "rerun.json"]) == 0
    rerun = json.loads(Path("rerun.json").read_text())[0]
    assert rerun["val_mse"] == pytest.approx(study.best_value, rel=1e-5)


def test_pruned_trials_are_marked(workdir: Path) -> None:
    """A trial the pruner stops is PRUNED in Optuna and marked so (run status KILLED) in its MLflow run."""
    args = parse(build_parser(), ["tune", "forecast", *TINY, "--search-space", "space.yaml"])
    options, space, _ = tune.prepare(args)
    mlflow.set_tracking_uri(local_store(workdir))
    study = optuna.create_study(storage="sqlite:///optuna.db", pruner=optuna.pruners.ThresholdPruner(upper=0.0))
    parent = tune.parent_run(study, "tune/test")
    study.optimize(tune.objective(args, space, options, parent, workdir / "trials"), n_trials=1)
    assert study.trials[0].state == optuna.trial.TrialState.PRUNED
    (run,) = children(mlflow.MlflowClient(), parent)
    assert run.data.tags["optuna.state"] == "PRUNED" and run.info.status == "KILLED"


def test_two_workers_share_a_postgres_study(workdir: Path, postgres_url: str) -> None:
    """Two processes tune one study on a real PostgreSQL server: every trial recorded once, none lost."""
    argv = ["tune", "forecast", *TINY, "--trials", "4", "--workers", "2", "--storage", postgres_url,
            "--study-name", "shared", "--search-space", "space.yaml"]
    assert main(argv) == 0
    (config,) = Path("runs/tune/shared").glob("worker-0-*/workers.yaml")
    assert "postgresql" not in config.read_text()  # the URL (with any password) reaches the workers by environment
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3]
    assert all(t.state.is_finished() for t in study.trials)
    client = mlflow.MlflowClient(local_store(workdir))
    runs = children(client, study.user_attrs[tune.PARENT_RUN_KEY])
    assert sorted(r.data.tags["optuna.trial"] for r in runs) == ["0", "1", "2", "3"]


def test_trials_logged_to_a_tracking_server(workdir: Path, mlflow_server: str) -> None:
    argv = ["tune", "forecast", *TINY, "--trials", "2", "--tracking-uri", mlflow_server, "--search-space", "space.yaml"]
    assert main(argv) == 0
    study = optuna.load_study(study_name="forecast-ETTh1-H96", storage="sqlite:///optuna.db")
    client = mlflow.MlflowClient(mlflow_server)
    parent = study.user_attrs[tune.PARENT_RUN_KEY]
    assert client.get_run(parent).data.metrics["best_val_mse"] == pytest.approx(study.best_value)
    assert len(children(client, parent)) == 2
    assert not Path("mlflow.db").exists()


def test_bad_search_space_is_one_line(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("bad.yaml").write_text("lr: {type: float, low: 1.0, high: 0.1}\n")
    assert main(["tune", "forecast", *TINY, "--search-space", "bad.yaml"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "titans-ts tune forecast: error: bad.yaml: lr: float needs low ≤ high"


def test_tune_classify_on_sqlite(workdir: Path) -> None:
    """A tiny classification study maximises validation MCC; its best configuration re-runs to the same score."""
    sequences, labels = planted_motif(240, 64, seed=1, motifs=("TATAAA",))
    Path("motif.csv").write_text("seq,label\n" + "".join(f"{s},{y}\n" for s, y in zip(sequences, labels)))
    space = {**SPACE, "chunk_size": 4, "theta_max": 0.05, "pooling": "attention"}
    Path("classify_space.yaml").write_text(yaml.safe_dump(space))
    argv = ["tune", "classify", "--data", "motif.csv", *TINY, "--trials", "2", "--search-space", "classify_space.yaml",
            "--best-to", "best.yaml"]  # fmt: skip
    assert main(argv) == 0
    study = optuna.load_study(study_name="classify-motif", storage="sqlite:///optuna.db")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE and len(study.trials) == 2
    client = mlflow.MlflowClient(local_store(workdir))
    parent = study.user_attrs[tune.PARENT_RUN_KEY]
    assert client.get_experiment(client.get_run(parent).info.experiment_id).name == "tune/classify/motif"
    assert client.get_run(parent).data.metrics["best_val_mcc"] == pytest.approx(study.best_value)
    for run in children(client, parent):
        assert run.data.tags["optuna.state"] == "COMPLETE" and run.data.params["chunk_size"] == "4"
        assert len(client.get_metric_history(run.info.run_id, "val_mcc")) == 2
    best = yaml.safe_load(Path("best.yaml").read_text())
    assert best["lr"] == study.best_params["lr"] and best["data"] == "motif.csv" and "dataset" not in best
    assert main(["classify", "--config", "best.yaml", "--summary-json", "rerun.json"]) == 0
    rerun = json.loads(Path("rerun.json").read_text())
    assert rerun["best_val_mcc"] == pytest.approx(study.best_value)
