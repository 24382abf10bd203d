"""What the dashboard shows, as plain data frames read from an MLflow tracking store; no web framework here, so
every function is testable on its own.

- runs: ``experiments``, ``runs_table`` and ``reference_lines`` (the paper's Table 3/4) for the run comparison;
- forecasts: ``RunForecasts`` (``pipelines.forecast_artifacts.FORECASTS`` of a run), one window, the error over the
  test period, or the gain of online memory and online fine-tuning over the frozen model, as long frames;
- memory: ``trace_view``, the surprise and gates of a run's ``memory_trace.parquet`` beside the series it read;
- genomics: ``confusion`` and ``per_class`` of a classification run's ``test_predictions.parquet``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from sklearn.metrics import matthews_corrcoef, precision_recall_fscore_support

from genomics.paper import GUE, GUE_MODELS, TABLE4
from pipelines.artifacts import FORECASTS, PREDICTIONS, TRACE
from titans_ts.forecasting.paper import table3
from titans_ts.memory import TRACE_FIELDS

MODEL_NAMES = {
    "titans": "Titans",
    "dlinear": "DLinear",
    "titans_online": "Titans (online memory)",
    "titans_finetune": "Titans (online fine-tuning)",
    "patchtst": "PatchTST",
}
"""Display names of the models in a forecast run's artifacts."""
BASELINE_NAMES = {"dlinear": "DLinear", "gb_cnn": "GB CNN"}
"""Display names of the pipelines' ``baseline`` tags."""


def experiments(client: mlflow.MlflowClient) -> list[str]:
    """Names of the experiments that hold at least one run, forecasting first, then classification, then the rest."""
    names = [e.name for e in client.search_experiments() if client.search_runs([e.experiment_id], max_results=1)]
    return sorted(names, key=lambda name: (not name.startswith("forecast/"), not name.startswith("classify/"), name))


def runs_table(client: mlflow.MlflowClient, experiment: str) -> pd.DataFrame:
    """The finished runs of ``experiment``, newest first: ``run_id``, ``run``, ``dataset``, ``model``, ``baseline``,
    ``horizon``
    (0 where the run has none), ``started``, and one column per metric."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise ValueError(f"no experiment named {experiment!r} in {mlflow.get_tracking_uri()}")
    rows = []
    for run in client.search_runs(
        [found.experiment_id], "attributes.status = 'FINISHED'", order_by=["start_time DESC"]
    ):
        tags = run.data.tags
        rows.append({
            "run_id": run.info.run_id,
            "run": run.info.run_name,
            "dataset": tags.get("dataset", ""),
            "model": tags.get("model", ""),
            "baseline": BASELINE_NAMES.get(tags.get("baseline", ""), "baseline"),
            "horizon": int(tags.get("horizon", 0)),
            "started": pd.Timestamp(run.info.start_time, unit="ms"),
            **run.data.metrics,
        })  # fmt: skip
    return pd.DataFrame(rows)


def comparison(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``metric`` of every run, of its baseline (``baseline_<metric>``) and of PatchTST (``patchtst_<metric>``),
    when logged, in long form: ``run``, ``dataset``, ``horizon``, ``model`` ("Titans (<variant>)", the baseline's
    name or "PatchTST") and ``value``."""
    titans = runs.assign(value=runs[metric], model="Titans (" + runs["model"] + ")")
    parts = [titans]
    if f"baseline_{metric}" in runs:
        parts.append(runs.assign(value=runs[f"baseline_{metric}"], model=runs["baseline"]))
    if f"patchtst_{metric}" in runs:
        parts.append(runs.assign(value=runs[f"patchtst_{metric}"], model="PatchTST"))
    frame = pd.concat(parts, ignore_index=True)
    return frame.loc[frame["value"].notna(), ["run", "dataset", "horizon", "model", "value"]]


def reference_lines(datasets: list[str], metric: str) -> pd.DataFrame:
    """The paper's numbers for ``metric`` on ``datasets`` (``dataset``, ``label``, ``value``), in the units the
    pipelines log: Table 3's four-horizon means of Titans for test_mse / test_mae; Table 4's accuracies (as fractions)
    of Titans and of the CNN for test_accuracy; the MCCs (as fractions) of the pre-trained models DNABERT-2 reports on
    GUE for test_mcc."""
    rows = []
    for dataset in datasets:
        paper = table3(dataset)
        if metric in ("test_mse", "test_mae") and paper is not None:
            rows.append((dataset, "paper: Titans, mean of 4 horizons", paper[0 if metric == "test_mse" else 1]))
        if metric == "test_accuracy" and dataset in TABLE4:
            titans, cnn = TABLE4[dataset]
            rows += [(dataset, "paper: Titans", titans / 100), (dataset, "paper: CNN", cnn / 100)]
        if metric == "test_mcc" and dataset in GUE:
            rows += [(dataset, f"published: {name}", value / 100) for name, value in zip(GUE_MODELS, GUE[dataset])]
    return pd.DataFrame(rows, columns=["dataset", "label", "value"])


def download(run_id: str, artifact: str) -> Path:
    """The local path of ``artifact`` of run ``run_id`` (downloaded from the tracking store's artifact location);
    FileNotFoundError names the run when it has no such artifact."""
    try:
        return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact))
    except (OSError, mlflow.exceptions.MlflowException) as err:
        raise FileNotFoundError(f"run {run_id} has no {artifact} (made by an older titans-ts?)") from err


@dataclass(frozen=True)
class RunForecasts:
    """A forecast run's test forecasts (see ``pipelines.forecast_artifacts``); ``forecasts`` and ``window_mse`` map
    model keys ("titans", "dlinear", "titans_online", "titans_finetune") to their arrays."""

    channels: list[str]
    dates: pd.DatetimeIndex
    series: np.ndarray
    lookback: int
    horizon: int
    windows: np.ndarray
    forecasts: dict[str, np.ndarray]
    window_mse: dict[str, np.ndarray]

    @classmethod
    def load(cls, path: str | Path) -> RunForecasts:
        """Read a ``FORECASTS`` file."""
        with np.load(path) as saved:

            def prefixed(prefix: str) -> dict[str, np.ndarray]:
                return {key.split("/", 1)[1]: saved[key] for key in saved.files if key.startswith(prefix)}

            return cls(
                channels=[str(c) for c in saved["channels"]],
                dates=pd.DatetimeIndex(saved["dates"]),
                series=saved["series"],
                lookback=int(saved["lookback"]),
                horizon=int(saved["horizon"]),
                windows=saved["windows"],
                forecasts=prefixed("forecast/"),
                window_mse=prefixed("window_mse/"),
            )

    def window(self, position: int, channel: str) -> pd.DataFrame:
        """The ``position``-th saved window of ``channel`` in long form (``date``, ``value``, ``line``): its lookback
        ("history"), what happened ("actual") and each model's forecast, in the data's own units."""
        start, column = int(self.windows[position]), self.channels.index(channel)
        split = start + self.lookback
        parts = [
            ("history", self.dates[start:split], self.series[start:split, column]),
            ("actual", self.dates[split : split + self.horizon], self.series[split : split + self.horizon, column]),
        ]
        for key, values in self.forecasts.items():
            parts.append(
                (MODEL_NAMES.get(key, key), self.dates[split : split + self.horizon], values[position, :, column])
            )
        return pd.concat(
            [pd.DataFrame({"date": dates, "value": values, "line": line}) for line, dates, values in parts],
            ignore_index=True,
        )

    def errors(self, channel: str) -> pd.DataFrame:
        """Every test window's MSE (scaled units) of ``channel`` for each model, at the window's first forecast date:
        ``date``, ``model``, ``mse``."""
        column = self.channels.index(channel)
        frames = []
        for key, mse in self.window_mse.items():
            dates = self.dates[self.lookback : self.lookback + len(mse)]
            frames.append(pd.DataFrame({"date": dates, "model": MODEL_NAMES.get(key, key), "mse": mse[:, column]}))
        return pd.concat(frames, ignore_index=True)

    def gains(self, channel: str) -> pd.DataFrame:
        """Where test-time learning helped: every test window's frozen MSE minus its MSE with online memory (and
        with online fine-tuning, when the run has it) for ``channel``, at the window's first forecast date
        (``date``, ``model``, ``gain``; above 0: better than the frozen model). Empty when the run has no online
        forecasts (run without ``--online``)."""
        column = self.channels.index(channel)
        frozen = self.window_mse.get("titans")
        frames = []
        for key in ("titans_online", "titans_finetune"):
            if frozen is None or key not in self.window_mse:
                continue
            gain = frozen[:, column] - self.window_mse[key][:, column]
            dates = self.dates[self.lookback : self.lookback + len(gain)]
            frames.append(pd.DataFrame({"date": dates, "model": MODEL_NAMES[key], "gain": gain}))
        if not frames:
            return pd.DataFrame({"date": pd.DatetimeIndex([]), "model": pd.Series(dtype=str), "gain": []})
        return pd.concat(frames, ignore_index=True)


def load_forecasts(run_id: str) -> RunForecasts:
    """The ``RunForecasts`` of forecast run ``run_id``."""
    return RunForecasts.load(download(run_id, FORECASTS))


def load_trace(run_id: str) -> pd.DataFrame:
    """The memory trace of forecast run ``run_id`` (``titans_ts.forecasting.trace.memory_trace`` plus ``date``)."""
    return pd.read_parquet(download(run_id, TRACE))


def trace_view(trace: pd.DataFrame, forecasts: RunForecasts, layer: int, channel: str) -> pd.DataFrame:
    """The series and what memory ``layer`` did while reading it, in long form (``date``, ``panel``, ``line``,
    ``value``):
    panel "series" holds ``channel``'s test rows (every forecast channel when the model mixed them, channel "all"),
    the panels of ``TRACE_FIELDS`` the head-averaged surprise, gradient norm, step scale and gates of each write."""
    picked = trace[(trace["layer"] == layer) & (trace["channel"] == channel)]
    if picked.empty:
        raise ValueError(f"the trace has no layer {layer} / channel {channel!r}")
    shown = forecasts.channels if channel == "all" else [channel]
    series = [
        pd.DataFrame({"date": forecasts.dates, "panel": "series", "line": name,
                      "value": forecasts.series[:, forecasts.channels.index(name)]})
        for name in shown
    ]  # fmt: skip
    written = picked.melt(id_vars=["date"], value_vars=list(TRACE_FIELDS), var_name="panel", value_name="value")
    return pd.concat([*series, written.assign(line=channel)], ignore_index=True)


def load_predictions(run_id: str) -> pd.DataFrame:
    """Classification run ``run_id``'s test predictions: ``label``, ``titans``, ``gb_cnn`` (class names)."""
    return pd.read_parquet(download(run_id, PREDICTIONS))


def confusion(predictions: pd.DataFrame, model: str) -> pd.DataFrame:
    """Counts of every (true ``label``, ``predicted`` class of column ``model``) pair, zeros included: ``label``,
    ``predicted``, ``count``, ``share`` (of the true class's sequences)."""
    classes = sorted(set(predictions["label"]) | set(predictions[model]))
    table = pd.crosstab(predictions["label"], predictions[model]).reindex(index=classes, columns=classes, fill_value=0)
    counts = table.rename_axis(index="label", columns="predicted").stack().rename("count").reset_index()
    totals = counts.groupby("label")["count"].transform("sum")
    return counts.assign(share=counts["count"] / totals.where(totals > 0, 1))


def scores(predictions: pd.DataFrame, model: str) -> dict[str, float]:
    """``accuracy`` and ``mcc`` (Matthews correlation) of column ``model``'s predictions against ``label``."""
    return {
        "accuracy": float((predictions["label"] == predictions[model]).mean()),
        "mcc": float(matthews_corrcoef(predictions["label"], predictions[model])),
    }


def per_class(predictions: pd.DataFrame, model: str) -> pd.DataFrame:
    """Precision, recall, F1 and support of every true class for column ``model``'s predictions."""
    classes = sorted(set(predictions["label"]))
    precision, recall, f1, support = precision_recall_fscore_support(
        predictions["label"], predictions[model], labels=classes, zero_division=0
    )
    return pd.DataFrame({"class": classes, "precision": precision, "recall": recall, "f1": f1, "support": support})
