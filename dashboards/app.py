"""The titans-ts dashboard, a Streamlit app over an MLflow tracking store: ``titans-ts dashboard`` starts it.

Four pages: run comparison (test metrics across runs beside the paper's Table 3/4), forecast explorer (a window's
forecast against what happened, the error over the test period and, for --online runs, the gain of online memory and
online fine-tuning over the frozen model), memory (the surprise and gates of every memory
write along the series), genomics (confusion matrix and per-class metrics). The data come from ``dashboards.data``.

    streamlit run dashboards/app.py -- --tracking-uri sqlite:///mlflow.db
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TypeVar

import altair as alt
import mlflow
import pandas as pd
import streamlit as st

from dashboards import data
from titans_ts.memory import TRACE_FIELDS
from titans_ts.training.tracking import tracking_uri

T = TypeVar("T")
TRACE_TITLES = {
    "series": "series (own units)",
    "surprise": "surprise ‖M(k) − v‖²",
    "grad_norm": "‖∇ℓ‖",
    "step_scale": "step scale σ (< 1: capped)",
    "theta": "θ (learning rate)",
    "eta": "η (momentum)",
    "alpha": "α (forgetting)",
}

LINE_COLOURS = alt.Scale(
    domain=["history", "actual", *data.MODEL_NAMES.values()],
    range=["#9e9e9e", "#000000", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd"],
)


def store_uri() -> str:
    """The tracking URI given after ``--`` on the streamlit command line, else ``tracking_uri()``'s default."""
    parser = argparse.ArgumentParser(prog="dashboards/app.py")
    parser.add_argument("--tracking-uri")
    return tracking_uri(parser.parse_known_args(sys.argv[1:])[0].tracking_uri)


@st.cache_data(ttl=30, show_spinner=False)
def cached_runs(uri: str, experiment: str) -> pd.DataFrame:
    return data.runs_table(mlflow.MlflowClient(uri), experiment)


@st.cache_data(ttl=30, show_spinner=False)
def cached_experiments(uri: str) -> list[str]:
    return data.experiments(mlflow.MlflowClient(uri))


@st.cache_data(show_spinner="reading the run's forecasts …")
def cached_forecasts(uri: str, run_id: str) -> data.RunForecasts:
    return data.load_forecasts(run_id)


@st.cache_data(show_spinner="reading the memory trace …")
def cached_trace(uri: str, run_id: str) -> pd.DataFrame:
    return data.load_trace(run_id)


@st.cache_data(show_spinner="reading the test predictions …")
def cached_predictions(uri: str, run_id: str) -> pd.DataFrame:
    return data.load_predictions(run_id)


def artifact_or_warning(load: Callable[[str, str], T], uri: str, run_id: str) -> T | None:
    """``load(uri, run_id)``, or None after a warning on the page when the run lacks the artifact."""
    try:
        return load(uri, run_id)
    except FileNotFoundError as err:
        st.warning(str(err))
        return None


def pick_run(uri: str, prefix: str, what: str) -> pd.Series | None:
    """A select box of the finished runs of every experiment named ``prefix``…; the chosen run's row (None, with a
    hint to make one, when there is none)."""
    frames = [
        cached_runs(uri, name).assign(experiment=name) for name in cached_experiments(uri) if name.startswith(prefix)
    ]
    runs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if runs.empty:
        st.info(f"No {what} runs in {uri} yet: run `titans-ts {prefix.rstrip('/')} --quick`.")
        return None
    labels = runs["experiment"] + " · " + runs["run"] + " · " + runs["run_id"].str[:8]
    position = st.selectbox("run", range(len(runs)), format_func=lambda i: labels.iloc[i], key=f"{prefix}run")
    return runs.iloc[position]


def runs_page() -> None:
    uri = st.session_state["uri"]
    st.header("Run comparison")
    names = cached_experiments(uri)
    if not names:
        st.info(f"No runs in {uri} yet: run `titans-ts forecast --quick` or `titans-ts classify --quick`.")
        return
    experiment = st.selectbox("experiment", names)
    runs = cached_runs(uri, experiment)
    metrics = [c for c in runs.columns if c.startswith("test_")] or [c for c in runs.columns if c.startswith("val")]
    if not metrics:
        st.dataframe(runs, hide_index=True)
        return
    metric = st.selectbox("metric", metrics)
    long = data.comparison(runs, metric)
    reference = data.reference_lines(sorted(set(long["dataset"])), metric)
    by_horizon = bool((long["horizon"] > 0).any())
    tooltip = ["run", "dataset", "horizon", "model", alt.Tooltip("value:Q", format=".4f")]
    y = alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False))
    if by_horizon:  # a line per variant (and baseline) over the horizons
        chart = alt.Chart(long).mark_line(point=True).encode(x="horizon:O", y=y, color="model:N", tooltip=tooltip)
    else:  # a bar per run and model
        chart = alt.Chart(long).mark_bar().encode(x="run:N", xOffset="model:N", y=y, color="model:N", tooltip=tooltip)
    if not reference.empty:
        rules = (
            alt.Chart(reference)
            .mark_rule(strokeDash=[6, 4])
            .encode(y="value:Q", color=alt.value("black"), tooltip=["label", "value"])
        )
        chart = chart + rules + rules.mark_text(align="left", dx=4, dy=-6).encode(text="label", x=alt.value(0))
    st.altair_chart(chart.properties(height=340), width="stretch")
    st.caption("Dashed lines: the paper's numbers (Table 3: Titans, mean of the 4 horizons; Table 4: Titans and CNN).")
    st.dataframe(
        runs, hide_index=True, column_config={"started": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")}
    )


def forecasts_page() -> None:
    uri = st.session_state["uri"]
    st.header("Forecast explorer")
    run = pick_run(uri, "forecast/", "forecast")
    if run is None:
        return
    forecasts = artifact_or_warning(cached_forecasts, uri, run["run_id"])
    if forecasts is None:
        return
    left, right = st.columns([1, 3])
    channel = left.selectbox("channel", forecasts.channels, index=len(forecasts.channels) - 1)
    starts = forecasts.dates[forecasts.windows + forecasts.lookback]
    position = right.select_slider(
        "test window (first forecast step)",
        options=range(len(starts)),
        format_func=lambda i: f"{starts[i]:%Y-%m-%d %H:%M}",
        help=f"{len(starts)} windows spread evenly over the test split",
    )
    start = starts[position]
    st.subheader(f"{channel}: forecast from {start:%Y-%m-%d %H:%M}, H={forecasts.horizon}")
    window = forecasts.window(position, channel)
    lines = alt.Chart(window).mark_line().encode(
        x=alt.X("date:T"), y=alt.Y("value:Q", title=channel, scale=alt.Scale(zero=False)),
        color=alt.Color("line:N", title=None, scale=LINE_COLOURS, sort=LINE_COLOURS.domain),
        tooltip=["date:T", "line", alt.Tooltip("value:Q", format=".3f")],
    )  # fmt: skip
    st.altair_chart(lines.properties(height=320), width="stretch")
    st.subheader("Error over the test period")
    errors = forecasts.errors(channel)
    chart = alt.Chart(errors).mark_line(opacity=0.8).encode(
        x=alt.X("date:T", title="first forecast step of the window"), y=alt.Y("mse:Q", title="window MSE (scaled)"),
        color=alt.Color("model:N", scale=LINE_COLOURS), tooltip=["date:T", "model", alt.Tooltip("mse:Q", format=".4f")],
    )  # fmt: skip
    st.altair_chart(chart.properties(height=240), width="stretch")
    st.caption("Every stride-1 test window, scored as the protocol scores it; the chosen window is one of them.")
    gains = forecasts.gains(channel)
    if gains.empty:
        return
    st.subheader("Where test-time learning helped")
    zero = alt.Chart(pd.DataFrame({"gain": [0.0]})).mark_rule(color="black", strokeDash=[4, 4]).encode(y="gain:Q")
    chart = alt.Chart(gains).mark_line(opacity=0.8).encode(
        x=alt.X("date:T", title="first forecast step of the window"),
        y=alt.Y("gain:Q", title="frozen MSE − MSE (scaled)"),
        color=alt.Color("model:N", title=None, scale=LINE_COLOURS),
        tooltip=["date:T", "model", alt.Tooltip("gain:Q", format=".4f")],
    )  # fmt: skip
    st.altair_chart((chart + zero).properties(height=240), width="stretch")
    summary = [
        f"{model}: mean gain {gain.mean():.4f}, better than frozen on {(gain > 0).mean():.0%} of windows"
        for model, gain in gains.groupby("model")["gain"]
    ]
    st.caption(f"Above the dashed line the method beat the frozen model on that window. {'; '.join(summary)}.")


def memory_page() -> None:
    uri = st.session_state["uri"]
    st.header("Memory: surprise and gates along the series")
    run = pick_run(uri, "forecast/", "forecast")
    if run is None:
        return
    trace = artifact_or_warning(cached_trace, uri, run["run_id"])
    forecasts = artifact_or_warning(cached_forecasts, uri, run["run_id"])
    if trace is None or forecasts is None:
        return
    left, right = st.columns(2)
    channel = left.selectbox("series", sorted(set(trace["channel"])))
    layer = right.selectbox("memory (layer)", sorted(set(trace["layer"])))
    view = data.trace_view(trace, forecasts, layer, channel)
    charts = []
    for panel in ("series", *TRACE_FIELDS):
        part = alt.Chart(view[view["panel"] == panel]).mark_line(point=panel != "series").encode(
            x=alt.X("date:T", title=None), y=alt.Y("value:Q", title=TRACE_TITLES[panel], scale=alt.Scale(zero=False)),
            color=alt.Color("line:N", legend=None), tooltip=["date:T", alt.Tooltip("value:Q", format=".4f")],
        )  # fmt: skip
        charts.append(part.properties(height=110 if panel != "series" else 160))
    st.altair_chart(alt.vconcat(*charts).resolve_scale(x="shared"), width="stretch")
    st.caption(
        "The test split read as one stream, as `--online` reads it: blocks of the lookback, memory carried from block "
        "to block. A point per write (patch token), at the row where its patch ends, averaged over heads; the surprise "
        "is taken at the chunk-start weights, as the update takes it."
    )


def genomics_page() -> None:
    uri = st.session_state["uri"]
    st.header("Genomics: MCC, confusion matrix and per-class metrics")
    run = pick_run(uri, "classify/", "classify")
    if run is None:
        return
    predictions = artifact_or_warning(cached_predictions, uri, run["run_id"])
    if predictions is None:
        return
    model = st.radio(
        "model",
        ["titans", "gb_cnn"],
        horizontal=True,
        format_func={"titans": f"Titans ({run['model']})", "gb_cnn": "GB CNN"}.get,
    )
    found = data.scores(predictions, model)
    published = pd.concat([data.reference_lines([run["dataset"]], metric) for metric in ("test_mcc", "test_accuracy")])
    published_text = "; ".join(
        f"{r.label} MCC {r.value:.3f}" if r.label.startswith("published") else f"{r.label} {r.value:.1%}"
        for r in published.itertuples()
    )
    st.subheader(
        f"{run['dataset']}: test MCC {found['mcc']:.3f}, accuracy {found['accuracy']:.1%} on {len(predictions)} "
        f"sequences ({published_text or 'no published number for this set'})"
    )
    counts = data.confusion(predictions, model)
    base = alt.Chart(counts).encode(x=alt.X("predicted:N", title="predicted"), y=alt.Y("label:N", title="true class"))
    heat = base.mark_rect().encode(color=alt.Color("share:Q", scale=alt.Scale(scheme="blues"), title="share of row"))
    text = base.mark_text().encode(
        text="count:Q", color=alt.condition("datum.share > 0.5", alt.value("white"), alt.value("black"))
    )
    st.altair_chart((heat + text).properties(height=60 * counts["label"].nunique() + 40), width="stretch")
    st.table(
        data.per_class(predictions, model).style.format({"precision": "{:.3f}", "recall": "{:.3f}", "f1": "{:.3f}"})
    )


def main() -> None:
    st.set_page_config(page_title="titans-ts", layout="wide")
    uri = store_uri()
    mlflow.set_tracking_uri(uri)
    st.session_state["uri"] = uri
    st.sidebar.caption(f"MLflow store: `{uri}`")
    pages = [
        st.Page(runs_page, title="Run comparison", url_path="runs", default=True),
        st.Page(forecasts_page, title="Forecast explorer", url_path="forecasts"),
        st.Page(memory_page, title="Memory", url_path="memory"),
        st.Page(genomics_page, title="Genomics", url_path="genomics"),
    ]
    st.navigation(pages).run()


main()
