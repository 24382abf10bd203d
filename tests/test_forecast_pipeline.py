"""``titans-ts forecast`` end to end with tiny models: the MLflow run, --summary-json, --config, --resume after a
crash, one-line errors, and a generated CSV with another date format and frequency."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from pipeline_runs import crash_in_second_epoch, finished_run, write_series

from pipelines.artifacts import FORECASTS, TRACE
from pipelines.cli import main
from pipelines.serve import load_live_model
from titans_ts.forecasting.task import ForecastTask
from titans_ts.training.tracking import file_sha256

TINY = [
    "--d-model", "8", "--n-layers", "1", "--n-heads", "2", "--chunk-size", "4", "--segment-size", "8",
    "--window", "8", "--patch-len", "4", "--stride", "4", "--batch-size", "64", "--max-train-batches", "3",
]  # fmt: skip
SUMMARY_KEYS = {
    "dataset", "model", "horizon", "lookback", "test_mse", "test_mae", "val_mse", "baseline_test_mse",
    "baseline_test_mae", "epochs", "train_seconds", "mlflow_run_id",
}  # fmt: skip


def forecast(*argv: str) -> int:
    return main(["forecast", *argv])


def summary(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def hourly_run(workdir: Path) -> dict[str, Any]:
    """One run on 1000 hourly rows: tiny model from a YAML config, horizon 24, epochs overridden on the command line."""
    data = write_series(workdir / "hourly.csv", 1000, "h", "%Y-%m-%d %H:%M:%S")
    config = workdir / "tiny.yaml"
    config.write_text("lookback: 48\nhorizon: 24\nepochs: 5\nmodel: mal\n" + "".join(
        f"{flag[2:]}: {value}\n" for flag, value in zip(TINY[::2], TINY[1::2])
    ))  # fmt: skip
    out = workdir / "hourly.json"
    argv = ["--data", str(data), "--config", str(config), "--epochs", "2", "--run-dir", "hourly", "--online"]
    argv += ["--patchtst", "--patchtst-lr", "1e-3"]
    argv += ["--summary-json"]
    code = forecast(*argv, str(out))
    assert code == 0
    (result,) = summary(out)
    return result


def test_summary_json(hourly_run: dict[str, Any]) -> None:
    assert SUMMARY_KEYS <= hourly_run.keys()
    assert (hourly_run["dataset"], hourly_run["model"], hourly_run["horizon"], hourly_run["lookback"]) == (
        "hourly", "mal", 24, 48
    )  # fmt: skip
    assert hourly_run["epochs"] == 2  # the command line overrides the config file's 5
    for key in ("test_mse", "test_mae", "val_mse", "baseline_test_mse", "baseline_test_mae", "patchtst_test_mse"):
        assert 0 < hourly_run[key] < 5, key
    assert hourly_run["patchtst_epochs"] == 2 and hourly_run["job_seconds"] >= hourly_run["train_seconds"]


def test_mlflow_run_contents(workdir: Path, hourly_run: dict[str, Any]) -> None:
    run_id = hourly_run["mlflow_run_id"]
    run = finished_run(run_id, "forecast/hourly")
    client = mlflow.MlflowClient()
    params = run.data.params
    assert params["d_model"] == "8" and params["epochs"] == "2" and params["model"] == "mal"
    assert params["forecaster.backbone.variant"] == "mal" and params["forecaster.patch_len"] == "4"
    assert params["windows_test"] == str(200 + 48 - 48 - 24 + 1) and params["freq"] == "h"
    assert {"lr", "baseline_lr", "seed", "features", "lookback", "horizon", "forecaster.backbone.theta_max"} <= set(
        params
    )
    assert run.data.tags["data_sha256"] == file_sha256(workdir / "hourly.csv")
    assert len(run.data.tags["git_commit"].removesuffix("-dirty")) in (40, len("unknown"))
    assert params["patchtst_lr"] == "0.001" and run.data.tags["peer"] == "patchtst"
    for name in ("train_loss", "val_mse", "val_mae", "baseline_train_loss", "baseline_val_mse", "patchtst_val_mse"):
        assert [m.step for m in client.get_metric_history(run_id, name)] == [0, 1], name
    metrics = run.data.metrics
    for name in ("test_mse", "test_mae", "test_mse_original", "test_mae_original", "baseline_test_mse"):
        assert np.isfinite(metrics[name]), name
    assert metrics["test_mse"] == pytest.approx(hourly_run["test_mse"])
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"config.yaml", "forecast_vs_actual.png", "config_file", FORECASTS, TRACE} <= artifacts
    config = yaml.safe_load(mlflow.artifacts.load_text(f"runs:/{run_id}/config.yaml"))
    assert config["d_model"] == 8 and config["horizon"] == 24 and "run_dir" not in config
    (logged,) = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")
    assert logged.source_run_id == run_id
    assert mlflow.models.get_model_info(logged.model_uri).signature is not None
    model = mlflow.pytorch.load_model(logged.model_uri)
    assert model(torch.zeros(3, 48, 3)).shape == (3, 24, 3)


def test_dashboard_artifacts_hold_the_scored_forecasts(hourly_run: dict[str, Any]) -> None:
    """The logged per-window errors average to the run's test metrics (frozen and online); the trace covers the test
    rows read as whole blocks."""
    run_id = hourly_run["mlflow_run_id"]
    with np.load(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/{FORECASTS}")) as saved:
        assert list(saved["channels"]) == ["temp", "load", "sales"]
        assert saved["series"].shape == (200 + 48, 3) and len(saved["dates"]) == 248
        windows = 200 + 48 - 48 - 24 + 1
        assert saved["window_mse/titans"].shape == (windows, 3) and len(saved["windows"]) == 100
        assert float(saved["window_mse/titans"].mean()) == pytest.approx(hourly_run["test_mse"], rel=1e-5)
        assert float(saved["window_mse/dlinear"].mean()) == pytest.approx(hourly_run["baseline_test_mse"], rel=1e-5)
        assert float(saved["window_mse/patchtst"].mean()) == pytest.approx(hourly_run["patchtst_test_mse"], rel=1e-5)
        assert float(saved["window_mse/titans_online"].mean()) == pytest.approx(hourly_run["online_test_mse"], rel=1e-5)
        finetune_mse = float(saved["window_mse/titans_finetune"].mean())
        assert finetune_mse == pytest.approx(hourly_run["finetune_test_mse"], rel=1e-5)
        assert saved["forecast/titans"].shape == (100, 24, 3)
    trace = pd.read_parquet(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/{TRACE}"))
    assert list(trace.columns) == [
        "layer",
        "channel",
        "row",
        "date",
        "surprise",
        "grad_norm",
        "step_scale",
        "theta",
        "eta",
        "alpha",
    ]
    blocks, tokens = 248 // 48, 12  # patch 4, stride 4 over 48 rows
    assert len(trace) == blocks * tokens * 3 and set(trace["channel"]) == {"temp", "load", "sales"}
    assert trace["row"].max() == blocks * 48 - 1 and np.isfinite(trace[["surprise", "grad_norm"]]).all().all()
    assert trace["theta"].between(0, 0.1).all() and trace["eta"].between(0, 1).all()


def test_online_scores_are_reported(hourly_run: dict[str, Any]) -> None:
    """The three columns of --online: frozen, online memory, online fine-tuning (its learning rate the grid's best on
    the validation split), each with its time per test window, in result.json and in the MLflow run."""
    assert 0 < hourly_run["online_test_mse"] < 5 and 0 < hourly_run["online_test_mae"] < 5
    assert hourly_run["online_test_mse"] != hourly_run["test_mse"]
    assert 0 < hourly_run["finetune_test_mse"] < 5 and 0 < hourly_run["finetune_test_mae"] < 5
    by_lr = hourly_run["finetune_val_mse_by_lr"]
    assert len(by_lr) == 5 and hourly_run["finetune_val_mse"] == min(by_lr.values())
    assert by_lr[str(hourly_run["finetune_lr"])] == hourly_run["finetune_val_mse"]
    seconds = {name: hourly_run[f"{name}_seconds_per_window"] for name in ("frozen", "online", "finetune")}
    assert all(0 < value < 1 for value in seconds.values()), seconds
    metrics = mlflow.get_run(hourly_run["mlflow_run_id"]).data.metrics
    timed = [f"{name}_seconds_per_window" for name in seconds]
    for name in ("finetune_test_mse", "finetune_test_mae", "finetune_lr", *timed):
        assert metrics[name] == pytest.approx(hourly_run[name]), name


def test_resume_continues_a_killed_run(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_series(workdir / "short.csv", 700, "h", "%Y-%m-%d %H:%M:%S")
    argv = ["--data", str(data), "--lookback", "24", "--horizon", "12", "--epochs", "2", "--run-dir", "resumed", *TINY]
    crash_in_second_epoch(monkeypatch, ForecastTask)
    with pytest.raises(RuntimeError, match="killed"):
        forecast(*argv)
    monkeypatch.undo()
    checkpoints = workdir / "resumed" / "H12" / "titans"
    first = torch.load(checkpoints / "last.ckpt", weights_only=False)
    assert first["epoch"] == 0
    run_id = (workdir / "resumed" / "H12" / "mlflow_run_id").read_text()
    assert mlflow.get_run(run_id).info.status == "FAILED"

    # --resume takes every option back from the run folder; a flag that changes one is refused, naming it.
    resume = ["--resume", "--run-dir", "resumed"]
    with pytest.raises(SystemExit, match="2"):
        forecast(*resume, "--epochs", "3")
    assert "--epochs 3 differs from the run's 2" in capsys.readouterr().err
    out = workdir / "resumed.json"
    assert forecast(*resume, "--epochs", "2", "--summary-json", str(out)) == 0  # the same value is accepted
    (result,) = summary(out)
    assert result["epochs"] == 2 and result["mlflow_run_id"] == run_id
    last = torch.load(checkpoints / "last.ckpt", weights_only=False)
    assert last["epoch"] == 1 and last["global_step"] == 2 * first["global_step"] == 2 * 3  # --max-train-batches 3
    clock = next(state for key, state in first["callbacks"].items() if "TrainingClock" in key)
    assert result["train_seconds"] >= round(clock["seconds"], 1) > 0  # the first call's epoch counts too
    assert [m.step for m in mlflow.MlflowClient().get_metric_history(run_id, "train_loss")] == [0, 1]
    assert mlflow.get_run(run_id).info.status == "FINISHED"
    # A finished horizon is kept as it is.
    assert forecast(*resume, "--summary-json", str(out)) == 0
    assert summary(out) == [result]


def test_non_finite_loss_is_one_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_series(workdir / "nan.csv", 400, "h", "%Y-%m-%d %H:%M:%S")
    original = ForecastTask.training_step
    monkeypatch.setattr(ForecastTask, "training_step", lambda *a: original(*a) * float("inf"))
    assert forecast("--data", str(data), "--lookback", "24", "--horizon", "12", "--run-dir", "nan", *TINY) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "titans-ts forecast: error: nan H12: training loss became inf at epoch 0, batch 0; lower the learning rate, "
        "theta_max or chunk_size"
    )


def test_generated_daily_csv_with_month_first_dates(workdir: Path) -> None:
    data = write_series(workdir / "daily.csv", 500, "D", "%m/%d/%Y")
    out = workdir / "daily.json"
    argv = [
        "--data", str(data), "--target", "sales", "--covariates", "temp", "load", "--features", "MS",
        "--channels", "mixed", "--lookback", "28", "--horizon", "7", "14", "--epochs", "1", "--model", "lmm",
        *TINY, "--patch-len", "7", "--stride", "7", "--run-dir", "daily", "--summary-json", str(out),
    ]  # fmt: skip
    assert forecast(*argv) == 0
    results = summary(out)
    assert [(r["dataset"], r["horizon"]) for r in results] == [("daily", 7), ("daily", 14)]
    params = mlflow.get_run(results[0]["mlflow_run_id"]).data.params
    assert params["freq"] == "D" and params["out_columns"] == "sales" and params["columns"] == "temp,load,sales"
    # 70/10/20 % split: 350 train rows, 100 test rows plus the lookback.
    assert params["windows_train"] == str(350 - 28 - 7 + 1) and params["windows_test"] == str(100 + 28 - 28 - 7 + 1)


def test_train_online_selects_on_the_online_validation_score(workdir: Path) -> None:
    """--train-online: streams of blocks with the memory carried; the logged val_mse is the online validation score
    and the per-window one is logged beside it."""
    data = write_series(workdir / "daily.csv", 500, "D", "%Y-%m-%d")
    out = workdir / "online.json"
    argv = [
        "--data", str(data), "--lookback", "28", "--horizon", "7", "--epochs", "1", "--model", "mag", *TINY,
        "--train-online", "4", "--tbptt-blocks", "2", "--batch-size", "4", "--run-dir", "online",
        "--summary-json", str(out),
    ]  # fmt: skip
    assert forecast(*argv) == 0
    result = summary(out)[0]
    run = mlflow.get_run(result["mlflow_run_id"])
    assert run.data.params["train_online"] == "4" and run.data.params["tbptt_blocks"] == "2"
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "val_frozen_mse")
    assert len(history) == 1 and np.isfinite(history[0].value)
    assert result["val_mse"] == pytest.approx(run.data.metrics["best_val_mse"])


def bad_csv(workdir: Path) -> str:
    path = workdir / "bad_target.csv"
    path.write_text("date,load,sales\n2021-01-01,1.0,3\n2021-01-02,2.0,n/a?\n")
    return str(path)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (lambda d: ["--data", str(d / "missing.csv")], "missing.csv: file not found"),
        (lambda d: ["--horizon", "0"], "argument --horizon: horizon must be a positive integer or 'all', got '0'"),
        (lambda d: ["--horizon", "-3"], "horizon must be a positive integer or 'all', got '-3'"),
        (
            lambda d: ["--data", bad_csv(d), "--target", "sales", "--features", "S"],
            "column 'sales' is not numeric: row 2 has 'n/a?'",
        ),
        (lambda d: ["--config", str(d / "nope.toml")], "nope.toml: config file not found"),
        (lambda d: ["--covariates", "HUFL"], "--covariates needs --target"),
        (lambda d: ["--target", "OT"], "--target OT needs --features S (the target alone) or MS"),
        (lambda d: ["--data", str(d)], "is a folder; give a data file (.csv"),
        (lambda d: ["--run-dir", str(d)], "is not empty; pass --resume to continue it"),
    ],
    ids=[
        "missing-file",
        "horizon-0",
        "horizon-negative",
        "non-numeric-target",
        "missing-config",
        "covariates",
        "target-without-features",
        "folder-as-data",
        "used-run-dir",
    ],
)
def test_bad_input_is_one_line(workdir: Path, capsys: pytest.CaptureFixture[str], argv: Any, message: str) -> None:
    try:
        code = forecast(*argv(workdir))
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("titans-ts forecast: error: "), err
    assert message in err and "Traceback" not in err


def test_bad_config_key(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = workdir / "bad.toml"
    config.write_text('d-model = 8\nmodle = "mag"\n')
    with pytest.raises(SystemExit) as exit_:
        forecast("--config", str(config))
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"titans-ts forecast: error: {config}: unknown option 'modle'\n"


def test_console_script_error_has_no_traceback(workdir: Path) -> None:
    script = Path(sys.executable).with_name("titans-ts")
    command = [str(script)] if script.exists() else [shutil.which("titans-ts") or "titans-ts"]
    result = subprocess.run(
        [*command, "forecast", "--data", "missing.parquet"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2
    assert result.stderr == "titans-ts forecast: error: missing.parquet: file not found\n"


def test_the_logged_model_serves_the_online_forecasts_of_the_run(hourly_run: dict[str, Any]) -> None:
    """``titans-ts serve`` of ``runs:/<id>/model``: the test split posted row by row gives the forecasts the run's
    online evaluation made (the stream starting at the split's first row)."""
    run_id = hourly_run["mlflow_run_id"]
    live = load_live_model(f"runs:/{run_id}/model")
    saved = np.load(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/{FORECASTS}"))
    assert list(live.outputs) == saved["channels"].tolist() == live.columns and live.freq == "h"
    dates = saved["dates"].astype("datetime64[us]")
    series, posted = live.new_series("test"), 0
    for index, window in enumerate(saved["windows"][:40:7]):
        end = window + hourly_run["lookback"]
        series.observe(live, dates[posted:end], saved["series"][posted:end].astype(np.float64), "test")
        posted = end
        _, forecast = series.forecast(live, hourly_run["horizon"])
        np.testing.assert_allclose(forecast, saved["forecast/titans_online"][index * 7], rtol=1e-4, atol=1e-4)
    assert not np.allclose(forecast, saved["forecast/titans"][index * 7], rtol=1e-4, atol=1e-4)  # memory has read
    version = mlflow.register_model(f"runs:/{run_id}/model", "served-hourly").version
    assert load_live_model(f"models:/served-hourly/{version}").fingerprint() == live.fingerprint()
