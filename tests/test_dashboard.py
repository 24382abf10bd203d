"""The dashboard: its data functions on hand-made frames and on a store made by real pipeline runs, and every page in
a real headless browser against that store."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from dashboard_browser import PAGES, browser_paths, dashboard, visit
from pipeline_runs import write_csv, write_series

from dashboards import data
from pipelines.cli import build_parser, main
from pipelines.dashboard import command
from titans_ts.memory import TRACE_FIELDS

FORECAST = [
    "--model", "mag", "--lookback", "48", "--horizon", "24", "48", "--d-model", "8", "--n-layers", "2",
    "--n-heads", "2", "--chunk-size", "4", "--window", "8", "--patch-len", "4", "--stride", "4", "--epochs", "1",
    "--max-train-batches", "3", "--online",
]  # fmt: skip
CLASSIFY = ["--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--chunk-size", "4", "--epochs", "1"]


@pytest.fixture(scope="module")
def store(workdir: Path) -> mlflow.MlflowClient:
    """A tracking store with two forecast runs (horizons 24 and 48, two memory layers, --online) on generated hourly
    data and one classification run on generated DNA (three classes)."""
    series = write_series(workdir / "plant.csv", 1000, "h", "%Y-%m-%d %H:%M:%S")
    assert main(["forecast", "--data", str(series), *FORECAST, "--run-dir", "fc"]) == 0
    train, test = write_csv(workdir / "dna.csv", 300, seed=1), write_csv(workdir / "dna_test.csv", 90, seed=2)
    assert main(["classify", "--data", str(train), "--test-data", str(test), *CLASSIFY, "--run-dir", "cls"]) == 0
    return mlflow.MlflowClient()


def run_of(client: mlflow.MlflowClient, experiment: str, horizon: int = 0) -> str:
    runs = data.runs_table(client, experiment)
    return runs.loc[runs["horizon"] == horizon, "run_id"].iloc[0]


def test_confusion_and_per_class_by_hand() -> None:
    predictions = pd.DataFrame({"label": list("aabbbc"), "titans": list("abbbaa")})
    counts = data.confusion(predictions, "titans").set_index(["label", "predicted"])
    assert len(counts) == 9 and counts["count"].sum() == 6
    assert counts.loc[("b", "b"), "count"] == 2 and counts.loc[("c", "c"), "count"] == 0
    assert counts.loc[("a", "b"), "share"] == 0.5 and counts.loc[("c", "a"), "share"] == 1.0
    found = data.scores(predictions, "titans")
    # MCC = (c·s − Σ p_k t_k) / √((s² − Σ p_k²)(s² − Σ t_k²)): 3 right of 6, predicted a 3 b 3 c 0, true a 2 b 3 c 1
    assert found["accuracy"] == 0.5 and found["mcc"] == pytest.approx((3 * 6 - 15) / np.sqrt((36 - 18) * (36 - 14)))
    table = data.per_class(predictions, "titans").set_index("class")
    # a: predicted a twice (once right), b: predicted b three times (twice right), c: never predicted
    assert table.loc["a", "precision"] == pytest.approx(1 / 3) and table.loc["a", "recall"] == 0.5
    assert table.loc["b", "precision"] == pytest.approx(2 / 3) and table.loc["b", "recall"] == pytest.approx(2 / 3)
    assert table.loc["c", "f1"] == 0 and table["support"].tolist() == [2, 3, 1]


def test_reference_lines_are_the_paper_numbers_in_logged_units() -> None:
    mse = data.reference_lines(["ETTh1", "mine"], "test_mse")
    assert mse.to_dict("records") == [{"dataset": "ETTh1", "label": "paper: Titans, mean of 4 horizons", "value": 0.42}]
    assert data.reference_lines(["weather"], "test_mae")["value"].tolist() == [0.265]  # Table 3's "Weather"
    accuracy = data.reference_lines(["human_nontata_promoters"], "test_accuracy").set_index("label")["value"]
    assert accuracy.to_dict() == {"paper: Titans": pytest.approx(0.966), "paper: CNN": pytest.approx(0.846)}
    assert data.reference_lines(["ETTh1"], "test_accuracy").empty
    mcc = data.reference_lines(["gue_tf_0"], "test_mcc").set_index("label")["value"]
    assert mcc.to_dict() == {"published: DNABERT (3-mer)": pytest.approx(0.6795),
                             "published: NT-2500M-multi": pytest.approx(0.6664),
                             "published: DNABERT-2": pytest.approx(0.7199)}  # fmt: skip


def test_runs_table_and_comparison(store: mlflow.MlflowClient) -> None:
    assert data.experiments(store) == ["forecast/plant", "classify/dna"]
    runs = data.runs_table(store, "forecast/plant")
    assert sorted(runs["horizon"]) == [24, 48] and set(runs["model"]) == {"mag"}
    assert set(runs["baseline"]) == {"DLinear"}
    long = data.comparison(runs, "test_mse")
    assert sorted(set(long["model"])) == ["DLinear", "Titans (mag)"] and len(long) == 4
    titans = long[long["model"] == "Titans (mag)"].set_index("horizon")["value"]
    assert titans.to_dict() == runs.set_index("horizon")["test_mse"].to_dict()
    with_peer = runs.assign(patchtst_test_mse=runs["test_mse"] + 1)  # as a run made with --patchtst logs it
    peer = data.comparison(with_peer, "test_mse").query("model == 'PatchTST'").set_index("horizon")["value"]
    assert peer.to_dict() == with_peer.set_index("horizon")["patchtst_test_mse"].to_dict()
    classified = data.runs_table(store, "classify/dna")
    assert classified["horizon"].tolist() == [0] and classified["baseline"].tolist() == ["GB CNN"]
    with pytest.raises(ValueError, match="no experiment named 'nothing'"):
        data.runs_table(store, "nothing")


def test_forecast_window_and_errors(store: mlflow.MlflowClient) -> None:
    run_id = run_of(store, "forecast/plant", 24)
    forecasts = data.load_forecasts(run_id)
    assert forecasts.channels == ["temp", "load", "sales"] and (forecasts.lookback, forecasts.horizon) == (48, 24)
    window = forecasts.window(3, "load")
    lines = window.groupby("line").size().to_dict()
    assert lines == {
        "history": 48, "actual": 24, "Titans": 24, "DLinear": 24, "Titans (online memory)": 24,
        "Titans (online fine-tuning)": 24,
    }  # fmt: skip
    start = int(forecasts.windows[3])
    actual = window.loc[window["line"] == "actual", "value"].to_numpy()
    np.testing.assert_array_equal(actual, forecasts.series[start + 48 : start + 72, 1])
    assert window.loc[window["line"] == "actual", "date"].iloc[0] == forecasts.dates[start + 48]
    errors = forecasts.errors("load")
    metrics = store.get_run(run_id).data.metrics
    count = len(forecasts.series) - 48 - 24 + 1
    assert len(errors) == 4 * count and errors["date"].iloc[0] == forecasts.dates[48]
    every_channel = np.mean([forecasts.errors(c).query("model == 'Titans'")["mse"].mean() for c in forecasts.channels])
    assert every_channel == pytest.approx(metrics["test_mse"], rel=1e-5)


def test_gains_by_hand() -> None:
    """The gain series: frozen window MSE minus each online method's, per channel, dated by the first forecast step;
    empty for a run without --online."""
    mse = {"titans": np.array([[1.0, 2.0], [3.0, 4.0]]), "titans_online": np.array([[0.5, 2.5], [3.0, 1.0]])}
    forecasts = data.RunForecasts(
        channels=["a", "b"], dates=pd.date_range("2024-01-01", periods=7, freq="h"), series=np.zeros((7, 2)),
        lookback=3, horizon=3, windows=np.arange(2), forecasts={}, window_mse=mse,
    )  # fmt: skip
    gains = forecasts.gains("b")
    assert gains["model"].tolist() == ["Titans (online memory)"] * 2 and gains["gain"].tolist() == [-0.5, 3.0]
    assert gains["date"].tolist() == list(forecasts.dates[3:5])
    mse["titans_finetune"] = np.array([[0.0, 1.0], [1.0, 1.0]])
    both = forecasts.gains("a").groupby("model")["gain"].apply(list).to_dict()
    assert both == {"Titans (online memory)": [0.5, 0.0], "Titans (online fine-tuning)": [1.0, 2.0]}
    del mse["titans_online"], mse["titans_finetune"]
    assert forecasts.gains("a").empty and list(forecasts.gains("a").columns) == ["date", "model", "gain"]


def test_gains_of_an_online_run(store: mlflow.MlflowClient) -> None:
    forecasts = data.load_forecasts(run_of(store, "forecast/plant", 24))
    gains = forecasts.gains("sales")
    count = len(forecasts.series) - 48 - 24 + 1
    assert gains.groupby("model").size().to_dict() == {
        "Titans (online fine-tuning)": count, "Titans (online memory)": count
    }  # fmt: skip
    assert np.isfinite(gains["gain"]).all()


def test_trace_view(store: mlflow.MlflowClient) -> None:
    run_id = run_of(store, "forecast/plant", 48)
    trace, forecasts = data.load_trace(run_id), data.load_forecasts(run_id)
    assert sorted(set(trace["layer"])) == [0, 1]
    view = data.trace_view(trace, forecasts, 1, "sales")
    panels = view.groupby("panel").size()
    assert panels["series"] == len(forecasts.series)
    assert all(panels[field] == len(trace) // 6 for field in TRACE_FIELDS)  # 2 layers x 3 channels
    with pytest.raises(ValueError, match="no layer 2"):
        data.trace_view(trace, forecasts, 2, "sales")


def test_missing_artifact_names_the_run(store: mlflow.MlflowClient) -> None:
    run_id = run_of(store, "classify/dna")
    with pytest.raises(FileNotFoundError, match=f"run {run_id} has no test_forecasts.npz"):
        data.load_forecasts(run_id)


def test_dashboard_command_binds_localhost() -> None:
    args = build_parser().parse_args(["dashboard", "--port", "8600", "--tracking-uri", "sqlite:///x.db"])
    argv = command(args)
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1" and argv[argv.index("--server.port") + 1] == "8600"
    assert argv[-2:] == ["--tracking-uri", "sqlite:///x.db"]


@pytest.mark.skipif(
    browser_paths() is None and not os.environ.get("CI"),
    reason="chromium and chromedriver are not installed (.ci/run installs them; on CI this test must run)",
)
def test_every_page_in_a_headless_browser(store: mlflow.MlflowClient, workdir: Path) -> None:
    with dashboard(mlflow.get_tracking_uri(), workdir / "dashboard.log") as url:
        problems = visit(url, workdir / "screenshots")
    assert problems == {page.link: [] for page in PAGES}
    for page in PAGES:
        assert (workdir / "screenshots" / f"{page.slug}.png").stat().st_size > 10_000


def test_dashboard_help_and_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["dashboard", "--help"])
    help_text = capsys.readouterr().out
    assert all(flag in help_text for flag in ("--port", "--address", "--tracking-uri", "127.0.0.1"))
    assert main(["dashboard", "--port", "70000"]) == 2
    assert capsys.readouterr().err == "titans-ts dashboard: error: --port must be in 1..65535, got 70000\n"
