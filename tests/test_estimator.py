"""The estimator API (titans_ts.forecasting.estimator.Forecaster) on long-format pandas and polars frames."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import polars as pl
import pytest
import torch

from titans_ts.forecasting.data import DataError
from titans_ts.forecasting.estimator import FORECAST, Forecaster
from titans_ts.forecasting.online import online_forecast

HORIZON, LOOKBACK, ROWS = 6, 24, 100
TINY = {"d_model": 16, "n_layers": 1, "n_heads": 2, "chunk_size": 4, "segment_size": 8, "window": 8}
OPTIONS = {**TINY, "patch_len": 4, "stride": 4, "epochs": 2, "batch_size": 32}


def panel(rows: int = ROWS, start: str = "2024-01-01", offset: int = 0) -> pd.DataFrame:
    """Three hourly series with a temperature covariate, rows ``offset`` to ``offset + rows`` of their sine."""
    rng = np.random.default_rng(offset)
    ds = pd.date_range(start, periods=rows, freq="h")
    t = np.arange(offset, offset + rows)
    frames = [
        pd.DataFrame(
            {
                "unique_id": uid,
                "ds": ds,
                "y": 50 + 10 * np.sin(t / 4 + phase) + rng.normal(0, 0.3, rows),
                "temp": np.cos(t / 4 + phase),
            }
        )
        for uid, phase in (("north", 0.0), ("south", 1.0), ("west", 2.0))
    ]
    return pd.concat(frames, ignore_index=True)


def after(df: pd.DataFrame, rows: int, offset: int) -> pd.DataFrame:
    """The next ``rows`` rows of every series of ``panel``-made ``df``, which ends at row ``offset``."""
    return panel(rows, str(df["ds"].max() + pd.Timedelta("1h")), offset)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A forecaster fitted on ``panel()`` (pandas), saved; each test loads its own copy."""
    path = tmp_path_factory.mktemp("forecaster") / "fitted.pt"
    Forecaster(HORIZON, LOOKBACK, "mag", **OPTIONS).fit(panel()).save(path)
    return path


def test_predict_frames(fitted: Path) -> None:
    forecaster = Forecaster.load(fitted)
    forecast = forecaster.predict()
    assert isinstance(forecast, pd.DataFrame) and list(forecast.columns) == ["unique_id", "ds", FORECAST]
    assert forecast["unique_id"].tolist() == [uid for uid in ("north", "south", "west") for _ in range(HORIZON)]
    assert forecast["ds"].iloc[0] == pd.Timestamp("2024-01-01") + pd.Timedelta(hours=ROWS)
    assert forecast[FORECAST].between(30, 70).all()  # in the data's units
    # Right after fit the stream forecasts from the fitted rows with M_0: the frozen forecast of the same frame.
    np.testing.assert_allclose(forecaster.predict(panel())[FORECAST], forecast[FORECAST], rtol=1e-5)


def test_save_load_round_trip_is_exact(fitted: Path, tmp_path: Path) -> None:
    forecaster = Forecaster.load(fitted)
    forecaster.update(after(panel(), 30, ROWS))
    forecaster.save(tmp_path / "again.pt")
    loaded = Forecaster.load(tmp_path / "again.pt")
    pd.testing.assert_frame_equal(loaded.predict(), forecaster.predict())
    pd.testing.assert_frame_equal(loaded.predict(panel()), forecaster.predict(panel()))
    Forecaster(HORIZON, LOOKBACK, "lmm", **OPTIONS).save(tmp_path / "unfitted.pt")
    assert Forecaster.load(tmp_path / "unfitted.pt").model is None


def test_pandas_and_polars_give_identical_results(fitted: Path) -> None:
    from_pandas = Forecaster.load(fitted)
    from_polars = Forecaster(HORIZON, LOOKBACK, "mag", **OPTIONS).fit(pl.from_pandas(panel()))
    forecast = from_polars.predict()
    assert isinstance(forecast, pl.DataFrame)
    pd.testing.assert_frame_equal(forecast.to_pandas(), from_pandas.predict(), check_exact=True)
    pd.testing.assert_frame_equal(
        from_pandas.predict(pl.from_pandas(panel())).to_pandas(), from_pandas.predict(panel()), check_exact=True
    )


def test_update_then_predict_equals_one_call(fitted: Path) -> None:
    forecaster = Forecaster.load(fitted)
    old, new = panel(), after(panel(), 70, ROWS)
    first = new["ds"] < new["ds"].min() + pd.Timedelta("9h")
    forecaster.update(new[first])
    forecaster.update(new[~first])
    online = forecaster.predict()
    for uid, rows in online.groupby("unique_id"):
        history = pd.concat([old[old["unique_id"] == uid].tail(LOOKBACK), new[new["unique_id"] == uid]])
        mean, std = forecaster.stats[uid]
        scaled = torch.tensor((history[["temp", "y"]].to_numpy() - mean) / std, dtype=torch.float32)
        expected = online_forecast(forecaster.model, scaled)[:, -1].double().numpy() * std[-1] + mean[-1]
        np.testing.assert_allclose(rows[FORECAST].to_numpy(), expected, rtol=1e-6)
        assert rows["ds"].iloc[0] == new["ds"].max() + pd.Timedelta("1h")
    frozen = forecaster.predict(pd.concat([old, new]))
    assert not np.allclose(frozen[FORECAST], online[FORECAST])  # 94 rows past the fit: the memories read 2 blocks


def test_update_refuses_unknown_series_and_gaps(fitted: Path) -> None:
    forecaster = Forecaster.load(fitted)
    new = after(panel(), 3, ROWS)
    with pytest.raises(DataError, match="update: series 'east' was not in the frame given to fit"):
        forecaster.update(new.assign(unique_id="east").iloc[:3])
    with pytest.raises(DataError, match="update: series 'north' must continue at 2024-01-05 04:00:00"):
        forecaster.update(new.iloc[1:3])


def test_cross_validation(fitted: Path) -> None:
    df = panel()
    forecaster = Forecaster.load(fitted)
    backtest = forecaster.cross_validation(df, n_windows=2, step_size=3)
    assert list(backtest.columns) == ["unique_id", "ds", "cutoff", "y", FORECAST]
    assert len(backtest) == 3 * 2 * HORIZON
    north = backtest[backtest["unique_id"] == "north"]
    last = df["ds"].max()
    assert north["cutoff"].unique().tolist() == [last - pd.Timedelta(hours=9), last - pd.Timedelta(hours=6)]
    truth = df[df["unique_id"] == "north"].set_index("ds")["y"]
    np.testing.assert_array_equal(north["y"].to_numpy(), truth.loc[north["ds"]].to_numpy())
    assert np.all(north["ds"] > north["cutoff"])


def test_mlflow_switch_logs_the_fit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the sqlite store puts artifacts in ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    forecaster = Forecaster(HORIZON, LOOKBACK, "lmm", mlflow=True, tracking_uri=uri, experiment="api-test", **OPTIONS)
    forecaster.fit(panel())
    run = mlflow.MlflowClient(uri).get_run(forecaster.run_id)
    assert run.data.params["variant"] == "lmm" and run.data.params["forecaster.channels"] == "mixed"
    assert run.data.metrics["best_val_mse"] == pytest.approx(forecaster.val_mse)
    artifacts = [item.path for item in mlflow.MlflowClient(uri).list_artifacts(forecaster.run_id)]
    assert "forecaster.pt" in artifacts


def test_bad_frames_and_options() -> None:
    forecaster = Forecaster(HORIZON, LOOKBACK, **OPTIONS)
    with pytest.raises(DataError, match="fit: missing column\\(s\\) 'y'"):
        forecaster.fit(panel().drop(columns="y"))
    with pytest.raises(DataError, match="fit: series 'north' has 30 rows; training needs lookback 24 \\+ horizon 6"):
        forecaster.fit(panel(30))
    with pytest.raises(
        DataError, match="cross_validation \\(the rows before the first cutoff\\): series 'north' has 20"
    ):
        forecaster.cross_validation(panel(50), n_windows=5)
    with pytest.raises(RuntimeError, match="not fitted"):
        forecaster.predict()
    with pytest.raises(ValueError, match="unknown option\\(s\\) layers"):
        Forecaster(HORIZON, LOOKBACK, layers=2)


def test_online_aware_training_is_refused_not_ignored() -> None:
    with pytest.raises(ValueError, match="train_online and tbptt_blocks are not supported by Forecaster yet"):
        Forecaster(HORIZON, LOOKBACK, "mag", train_online=4)
