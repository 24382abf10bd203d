"""``Forecaster``: Titans with the fit/predict interface of Nixtla's neuralforecast, on long-format pandas or polars
frames (``unique_id, ds, y`` and exogenous columns), and online forecasting that keeps memorising new observations.

``Forecaster`` is the estimator; the ``nn.Module`` it trains is ``TitansForecastNet`` (``titans_ts.forecasting.model``).
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import ConcatDataset

from titans_ts.config import TitansConfig
from titans_ts.errors import DataError
from titans_ts.forecasting.data.dates import stamp_text
from titans_ts.forecasting.data.panel import Panel, make_frame, next_dates, read_panel
from titans_ts.forecasting.data.windows import WindowDataset
from titans_ts.forecasting.live import scaled, standard_moments
from titans_ts.forecasting.model import ForecasterConfig, TitansForecastNet
from titans_ts.forecasting.online import MemoryStream, forecast_window
from titans_ts.training.settings import TrainSettings

FORECAST = "Titans"  # the name of the forecast column, as neuralforecast names it after the model
_FORMAT = "titans-ts Forecaster 1"
_BACKBONE = {f.name for f in fields(TitansConfig)} - {"variant"}
_HEAD = {"patch_len", "stride", "revin", "revin_affine", "head_dropout", "linear_skip"}
STREAM_TRAINING = ("train_online", "tbptt_blocks")
"""Online-aware training (``streams``) reads one split of one series as streams; the panel fit trains per window."""
_TRAINING = {f.name for f in fields(TrainSettings)} - set(STREAM_TRAINING)


class Forecaster:
    """Fit a Titans forecaster on a long-format frame and forecast ``horizon`` steps after every series.

    ``Forecaster(horizon, lookback, variant, freq)``, then ``fit(df)``; ``predict(df)`` forecasts after the series of
    ``df`` with the trained model; ``update(new_rows)`` and ``predict()`` forecast online (see ``update``);
    ``cross_validation(df, n_windows)`` backtests; ``save(path)`` / ``Forecaster.load(path)``.

    Every column besides unique_id, ds and y is an exogenous input (or those named in ``exog``): observed up to the
    forecast time, not needed in the future. With exogenous columns a token holds all columns of its patch
    (``channels="mixed"``); with y alone, each series is one channel. Every column is standardised per series with the
    mean and standard deviation of its rows in ``fit``; forecasts are in the data's units. ``freq`` (a pandas offset
    alias) is inferred when None. The last ``val_size`` rows of every series (default: ``horizon``) hold the
    validation windows of early stopping. ``options`` are fields of ``TitansConfig`` (d_model, n_layers, ...),
    ``ForecasterConfig`` (patch_len, stride, revin, revin_affine, head_dropout, linear_skip) or the training settings
    (lr, batch_size, epochs, patience, loss, max_train_batches, device, lr_schedule). With ``mlflow=True`` every ``fit``
    is an MLflow run in ``experiment`` (store: ``tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else ./mlflow.db)
    with the parameters, per-epoch losses, the best validation MSE and the saved forecaster.
    """

    def __init__(
        self,
        horizon: int,
        lookback: int,
        variant: str = "mag",
        freq: str | None = None,
        *,
        exog: list[str] | None = None,
        val_size: int | None = None,
        seed: int = 2021,
        mlflow: bool = False,
        tracking_uri: str | None = None,
        experiment: str = "estimator",
        **options: Any,
    ) -> None:
        unknown = sorted(set(options) - _BACKBONE - _HEAD - _TRAINING)
        if set(options) & set(STREAM_TRAINING):
            raise ValueError(
                "train_online and tbptt_blocks are not supported by Forecaster yet (it trains every "
                "window from M_0); use titans-ts forecast --train-online on one series"
            )
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}; see the Forecaster docstring")
        self.params = {
            "horizon": horizon,
            "lookback": lookback,
            "variant": variant,
            "freq": freq,
            "exog": exog,
            "val_size": val_size,
            "seed": seed,
            "mlflow": mlflow,
            "tracking_uri": tracking_uri,
            "experiment": experiment,
            **options,
        }
        self.horizon, self.lookback, self.variant, self.freq, self.exog = horizon, lookback, variant, freq, exog
        self.val_size = horizon if val_size is None else val_size
        if self.val_size < horizon:
            raise ValueError(f"val_size must be at least the horizon, {horizon}; got {self.val_size}")
        self.seed, self.mlflow, self.tracking_uri, self.experiment = seed, mlflow, tracking_uri, experiment
        self.settings = TrainSettings(**{k: v for k, v in options.items() if k in _TRAINING})
        self.backbone = TitansConfig(variant=variant, **{k: v for k, v in options.items() if k in _BACKBONE})
        self.head = {k: v for k, v in options.items() if k in _HEAD}
        ForecasterConfig(lookback, horizon, 1, backbone=self.backbone, **self.head)  # checks the options now
        self.model: TitansForecastNet | None = None
        self.run_id: str | None = None

    # ---- fitting ----

    def fit(self, df: Any) -> Forecaster:
        """Train on every series of ``df`` (each needs lookback + horizon + val_size rows); start the online streams
        from the last ``lookback`` rows of each series."""
        self._fit(read_panel(df, self.freq, self.exog, source="fit"), "fit")
        return self

    def _fit(self, panel: Panel, source: str) -> None:
        import lightning as L

        from titans_ts.forecasting.task import ForecastTask
        from titans_ts.training.fit import fit_and_predict

        need = self.lookback + self.horizon + self.val_size
        for uid in panel.ids:
            if len(panel.dates[uid]) < need:
                raise DataError(
                    f"{source}: series {uid!r} has {len(panel.dates[uid])} rows; training needs lookback "
                    f"{self.lookback} + horizon {self.horizon} + val_size {self.val_size} = {need}"
                )
        stats = {uid: standard_moments(values) for uid, values in panel.values.items()}
        standardised = {uid: scaled(panel.values[uid], stats[uid]) for uid in panel.ids}
        out_index = [len(panel.columns) - 1] if len(panel.columns) > 1 else None
        train = [
            WindowDataset(rows[: -self.val_size], self.lookback, self.horizon, out_index, f"series {uid!r}")
            for uid, rows in standardised.items()
        ]
        val = [
            WindowDataset(
                rows[-self.val_size - self.lookback :], self.lookback, self.horizon, out_index, f"series {uid!r} [val]"
            )
            for uid, rows in standardised.items()
        ]
        # fit_and_predict forecasts its "test" split with the best checkpoint: the validation windows again, cheap.
        splits = {"train": ConcatDataset(train), "val": ConcatDataset(val), "test": ConcatDataset(val)}
        config = ForecasterConfig(
            lookback=self.lookback,
            horizon=self.horizon,
            n_inputs=len(panel.columns),
            out_index=None if out_index is None else tuple(out_index),
            channels="mixed" if out_index else "independent",
            backbone=self.backbone,
            **self.head,
        )
        L.seed_everything(self.seed, workers=True, verbose=False)
        model = TitansForecastNet(config)
        with self._tracked(config, panel) as callbacks:
            with tempfile.TemporaryDirectory() as checkpoints:
                task = ForecastTask(model, self.settings)
                result = fit_and_predict(
                    task, splits, self.settings, Path(checkpoints), "val_mse", "min", callbacks=callbacks
                )
            self.model, self.val_mse, self.stats = model.cpu().eval(), result.score, stats
            self.columns, self.fitted_freq, self.kind = panel.columns, panel.freq, panel.kind
            self.streams = {uid: MemoryStream(self.model, standardised[uid][-self.lookback :]) for uid in panel.ids}
            self.last = {uid: panel.dates[uid][-1] for uid in panel.ids}
            if self.run_id is not None:
                self._log_result(result.epochs, result.seconds)

    @contextlib.contextmanager
    def _tracked(self, config: ForecasterConfig, panel: Panel) -> Any:
        """An MLflow run around training when ``mlflow`` is on (yielding its per-epoch callback), else nothing."""
        if not self.mlflow:
            self.run_id = None
            yield []
            return
        import mlflow

        from titans_ts.training.tracking import EpochMetrics, experiment_id, flat_params, git_commit, tracking_uri

        mlflow.set_tracking_uri(tracking_uri(self.tracking_uri))
        experiment_id(self.experiment)
        with mlflow.start_run(run_name=f"{self.variant}-L{self.lookback}-H{self.horizon}") as run:
            self.run_id = run.info.run_id
            facts = {"columns": panel.columns, "freq": panel.freq, "series": len(panel.ids)}
            model_params = {f"forecaster.{key}": value for key, value in config.to_dict().items()}
            mlflow.log_params(flat_params({**self.params, **asdict(self.settings), **model_params, **facts}))
            mlflow.set_tags({"git_commit": git_commit(), "api": "titans_ts.forecasting.estimator.Forecaster"})
            yield [EpochMetrics(self.run_id)]

    def _log_result(self, epochs: int, seconds: float) -> None:
        """The run's final metrics and the saved forecaster (``forecaster.pt``, ``Forecaster.load`` reads it)."""
        import mlflow

        metrics = {"best_val_mse": self.val_mse, "epochs": epochs, "train_seconds": seconds}
        mlflow.log_metrics(metrics, run_id=self.run_id)
        with tempfile.TemporaryDirectory() as folder:
            self.save(Path(folder) / "forecaster.pt")
            mlflow.log_artifact(str(Path(folder) / "forecaster.pt"), run_id=self.run_id)

    # ---- forecasting ----

    def predict(self, df: Any = None) -> Any:
        """Forecasts of the next ``horizon`` steps, a frame (unique_id, ds, Titans) of the input's library.

        With ``df``: after the last row of every series in ``df`` (at least ``lookback`` rows each), from its last
        ``lookback`` rows with the trained model; series not seen in ``fit`` are standardised with their own rows.
        Without: after each fitted series' stream (see ``update``), from the memories it has reached.
        """
        model = self._fitted()
        if df is None:
            ids, kind, moments = list(self.streams), self.kind, self.stats
            forecasts = torch.stack([self.streams[uid].forecast() for uid in ids])
            last = [self.last[uid] for uid in ids]
        else:
            panel = read_panel(df, self.fitted_freq, self.columns[:-1], source="predict")
            ids, kind = panel.ids, panel.kind
            moments = {uid: self.stats.get(uid) or standard_moments(panel.values[uid]) for uid in ids}
            for uid in ids:
                if len(panel.dates[uid]) < self.lookback:
                    raise DataError(
                        f"predict: series {uid!r} has {len(panel.dates[uid])} rows, fewer than the lookback "
                        f"{self.lookback}"
                    )
            windows = [scaled(panel.values[uid][-self.lookback :], moments[uid]) for uid in ids]
            forecasts = forecast_window(model, torch.stack(windows), None)[0]
            last = [panel.dates[uid][-1] for uid in ids]
        return make_frame(self._forecast_columns(ids, last, forecasts, moments), kind)

    def update(self, df: Any) -> Forecaster:
        """Online forecasting: feed newly observed rows (the same columns as ``fit``; each series continuing right
        after its last timestamp) through the memories, without changing any trained weight.

        Each fitted series is a ``forecasting.online.MemoryStream`` that starts with the last ``lookback`` rows given to
        ``fit``: rows are cut into blocks of ``lookback`` from there, every block with ``lookback`` rows or more after
        it is read into the memories (weights and momentum carried from block to block, everything else as in
        training), and ``predict()`` forecasts from the last ``lookback`` rows with the memories reached. Right after
        ``fit``, ``predict()`` equals ``predict(df)`` of the fitted frame. The streams are saved by ``save``.
        """
        self._fitted()
        panel = read_panel(df, self.fitted_freq, self.columns[:-1], source="update")
        for uid in panel.ids:
            if uid not in self.streams:
                raise DataError(f"update: series {uid!r} was not in the frame given to fit; fit it first")
            expected = next_dates(self.last[uid], self.fitted_freq, 1)[0]
            if panel.dates[uid][0] != expected:
                raise DataError(
                    f"update: series {uid!r} must continue at {stamp_text(expected)} (after its last row, "
                    f"{stamp_text(self.last[uid])}); got {stamp_text(panel.dates[uid][0])}"
                )
        for uid in panel.ids:
            self.streams[uid].update(scaled(panel.values[uid], self.stats[uid]))
            self.last[uid] = panel.dates[uid][-1]
        return self

    def cross_validation(self, df: Any, n_windows: int = 1, step_size: int | None = None) -> Any:
        """Backtest: fit on every series up to its first cutoff, then forecast ``n_windows`` windows of ``horizon``
        steps ending at each series' end, cutoffs ``step_size`` (default ``horizon``) apart, each from the
        ``lookback`` rows before its cutoff with the trained model. A frame (unique_id, ds, cutoff, y, Titans)."""
        step = self.horizon if step_size is None else step_size
        if n_windows < 1 or step < 1:
            raise ValueError(f"n_windows and step_size must be ≥ 1; got {n_windows} and {step}")
        panel = read_panel(df, self.freq, self.exog, source="cross_validation")
        span = self.horizon + (n_windows - 1) * step
        first = {uid: max(0, len(panel.dates[uid]) - span) for uid in panel.ids}
        self._fit(
            Panel(
                ids=panel.ids,
                dates={uid: panel.dates[uid][: first[uid]] for uid in panel.ids},
                values={uid: panel.values[uid][: first[uid]] for uid in panel.ids},
                columns=panel.columns,
                freq=panel.freq,
                kind=panel.kind,
            ),
            "cross_validation (the rows before the first cutoff)",
        )
        cutoffs = [(uid, first[uid] + j * step) for uid in panel.ids for j in range(n_windows)]
        windows = [scaled(panel.values[uid][c - self.lookback : c], self.stats[uid]) for uid, c in cutoffs]
        forecasts = forecast_window(self.model, torch.stack(windows), None)[0]
        ends = [panel.dates[uid][c - 1] for uid, c in cutoffs]
        columns = self._forecast_columns([uid for uid, _ in cutoffs], ends, forecasts, self.stats)
        return make_frame(
            {
                "unique_id": columns["unique_id"],
                "ds": columns["ds"],
                "cutoff": np.repeat(ends, self.horizon),
                "y": np.concatenate([panel.values[uid][c : c + self.horizon, -1] for uid, c in cutoffs]),
                FORECAST: columns[FORECAST],
            },
            panel.kind,
        )

    # ---- persistence ----

    def save(self, path: str | Path) -> None:
        """Write the forecaster, trained or not, with its online streams, to one file (``torch.save``)."""
        fitted = None
        if self.model is not None:
            fitted = {
                "config": asdict(self.model.config),
                "weights": self.model.state_dict(),
                "columns": self.columns,
                "freq": self.fitted_freq,
                "kind": self.kind,
                "val_mse": self.val_mse,
                "series": [
                    {
                        "id": uid,
                        "stats": tuple(torch.from_numpy(s) for s in self.stats[uid]),
                        "last": int(self.last[uid].astype("datetime64[us]").astype(np.int64))
                        if uid in self.last
                        else None,
                        "stream": self.streams[uid].state_dict() if uid in self.streams else None,
                    }
                    for uid in self.stats
                ],
            }
        torch.save({"format": _FORMAT, "params": self.params, "fitted": fitted}, path)

    @classmethod
    def load(cls, path: str | Path) -> Forecaster:
        """A forecaster written by ``save``, its streams where they were."""
        state = torch.load(path, weights_only=True)
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"{path}: not a file written by Forecaster.save")
        forecaster = cls(**state["params"])
        fitted = state["fitted"]
        if fitted is None:
            return forecaster
        forecaster.model = TitansForecastNet.from_saved(fitted["config"], fitted["weights"])
        forecaster.columns, forecaster.fitted_freq = fitted["columns"], fitted["freq"]
        forecaster.kind, forecaster.val_mse = fitted["kind"], fitted["val_mse"]
        series = fitted["series"]
        forecaster.stats = {s["id"]: tuple(t.numpy() for t in s["stats"]) for s in series}
        forecaster.last = {s["id"]: np.datetime64(s["last"], "us") for s in series if s["last"] is not None}
        forecaster.streams = {s["id"]: MemoryStream(forecaster.model, **s["stream"]) for s in series if s["stream"]}
        return forecaster

    # ---- helpers ----

    def _fitted(self) -> TitansForecastNet:
        if self.model is None:
            raise RuntimeError("the forecaster is not fitted; call fit(df) first")
        return self.model

    def _forecast_columns(
        self,
        ids: list[Any],
        last: list[np.datetime64],
        forecasts: torch.Tensor,
        moments: dict[Any, tuple[np.ndarray, np.ndarray]],
    ) -> dict[str, Any]:
        """unique_id, ds and Titans columns of ``forecasts`` (one per id, (H, C_out) scaled, y last) after ``last``,
        in the data's units."""
        values = forecasts[..., -1].double().numpy()
        return {
            "unique_id": np.repeat(np.asarray(ids), self.horizon).tolist(),
            "ds": np.concatenate([next_dates(stamp, self.fitted_freq, self.horizon) for stamp in last]),
            FORECAST: np.concatenate([v * moments[uid][1][-1] + moments[uid][0][-1] for v, uid in zip(values, ids)]),
        }
