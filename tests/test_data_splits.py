"""The Time-Series-Library protocol: exact split borders, feature modes, a scaler fitted on train rows only,
and the DataErrors of bad arguments and short series."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from titans_ts.forecasting.data import (
    DataError,
    ForecastData,
    SeriesTable,
    available_datasets,
    load_table,
    min_rows,
    prepare_forecast,
    resolve_dataset,
    split_borders,
    split_kind,
)

HORIZONS = (96, 192, 336, 720)


@pytest.fixture(scope="module")
def etth1() -> SeriesTable:
    return load_table(resolve_dataset("ETTh1"))


def make_table(n: int, columns: int = 3, source: str = "demo.csv", seed: int = 0) -> SeriesTable:
    values = np.random.default_rng(seed).normal(size=(n, columns)) + np.arange(columns)
    dates = np.datetime64("2026-01-01T00:00") + np.arange(n) * np.timedelta64(1, "h")
    return SeriesTable(dates, values, [f"c{i}" for i in range(columns)], source, "h")


def test_etth1_borders_are_exact(etth1: SeriesTable) -> None:
    data = prepare_forecast(etth1, lookback=96, horizon=96)
    assert data.kind == "ett_hour"
    assert data.borders == {"train": (0, 8640), "val": (8544, 11520), "test": (11424, 14400)}
    assert [len(data.scaled[s]) for s in ("train", "val", "test")] == [8640, 2976, 2976]
    assert data.dates("test")[0] == etth1.dates[11424]


def test_etth2_borders_are_exact() -> None:
    if "ETTh2" not in available_datasets():
        pytest.skip("../shared/data/ett/ETTh2.csv.gz not present")
    data = prepare_forecast(load_table(resolve_dataset("ETTh2")), lookback=96, horizon=720)
    assert data.borders == {"train": (0, 8640), "val": (8544, 11520), "test": (11424, 14400)}


def test_minute_and_custom_borders() -> None:
    assert split_borders(69680, 96, "ett_minute") == {
        "train": (0, 34560),
        "val": (34464, 46080),
        "test": (45984, 57600),
    }
    # Dataset_Custom: train = int(n * 0.7), test = int(n * 0.2), val = the rest; val and test start L early.
    assert split_borders(1000, 96, "custom") == {"train": (0, 700), "val": (604, 800), "test": (704, 1000)}
    assert split_borders(17420, 96) == {"train": (0, 12194), "val": (12098, 13936), "test": (13840, 17420)}


def test_split_kind_follows_the_dataset_name() -> None:
    assert split_kind("ETTh2") == "ett_hour"
    assert split_kind("/data/ett/ETTm1.csv.gz") == "ett_minute"
    assert split_kind("weather.csv") == "custom"


def test_feature_modes_order_columns_target_last() -> None:
    table = make_table(400, columns=4)
    for features, n_in, n_out in (("M", 4, 4), ("MS", 4, 1), ("S", 1, 1)):
        data = prepare_forecast(table, lookback=24, horizon=12, features=features, target="c1")
        assert data.columns[-1] == "c1" and data.columns[: n_in - 1] == ["c0", "c2", "c3"][: n_in - 1]
        assert data.out_columns == (data.columns if features == "M" else ["c1"])
        x, y = data.windows("train")[0]
        assert x.shape == (24, n_in) and y.shape == (12, n_out)
        expected = table.values[24:36][:, [0, 2, 3, 1] if features == "M" else [1]]
        np.testing.assert_allclose(data.inverse_transform(y.double().numpy()), expected, rtol=1e-6)


def test_scaler_is_fitted_on_train_rows_only(etth1: SeriesTable) -> None:
    data = prepare_forecast(etth1, lookback=96, horizon=96)
    np.testing.assert_allclose(data.scaled["train"].mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(data.scaled["train"].std(axis=0), 1, atol=1e-9)
    np.testing.assert_allclose(data.scaler.mean_, etth1.values[:8640].mean(axis=0))
    assert np.abs(data.scaled["test"].mean(axis=0)).max() > 0.1
    assert np.abs(data.scaled["val"].mean(axis=0)).max() > 0.1

    changed = etth1.values.copy()
    changed[8640:] = changed[8640:] * 10 + 5
    leaked = prepare_forecast(SeriesTable(etth1.dates, changed, etth1.columns, etth1.source, "h"), 96, 96)
    np.testing.assert_array_equal(leaked.scaler.mean_, data.scaler.mean_)
    np.testing.assert_array_equal(leaked.scaler.scale_, data.scaler.scale_)
    np.testing.assert_array_equal(leaked.scaled["train"], data.scaled["train"])


def test_inverse_transform_restores_original_units(etth1: SeriesTable) -> None:
    data: ForecastData = prepare_forecast(etth1, lookback=96, horizon=192, features="MS", target="OT")
    _, y = data.windows("test")[5]
    start = 11424 + 5 + 96
    expected = etth1.values[start : start + 192, [6]]
    np.testing.assert_allclose(data.inverse_transform(y.double().numpy()), expected, rtol=1e-6)
    restored = data.inverse_transform(y.unsqueeze(0))
    assert isinstance(restored, torch.Tensor) and restored.dtype == torch.float32
    assert restored.shape == (1, 192, 1)
    np.testing.assert_allclose(restored[0].numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="last axis must have 1 channels"):
        data.inverse_transform(np.zeros((3, 7)))


def test_min_rows() -> None:
    n = min_rows(96, 96, "custom")
    split_borders(n, 96, "custom", 96)
    with pytest.raises(DataError):
        split_borders(n - 1, 96, "custom", 96)
    assert min_rows(96, 720, "ett_hour") == 14400
    assert min_rows(96, 3000, "ett_hour") is None


@pytest.mark.parametrize(
    ("n", "kwargs", "message"),
    [
        (400, {"lookback": 24, "horizon": 0}, r"demo\.csv: horizon must be a positive integer, got 0$"),
        (400, {"lookback": -1, "horizon": 12}, r"demo\.csv: lookback must be a positive integer, got -1$"),
        (400, {"lookback": 24, "horizon": 1.5}, r"demo\.csv: horizon must be a positive integer, got 1\.5$"),
        (
            300,
            {"lookback": 96, "horizon": 96},
            r"demo\.csv: series too short: 300 rows, but lookback 96 \+ horizon 96 with the 70/10/20 % "
            r"train/val/test splits needs at least 944 rows$",
        ),
        (
            400,
            {"lookback": 24, "horizon": 12, "target": "OT"},
            r"demo\.csv: target column 'OT' not found; columns: c0, c1, c2$",
        ),
        (
            400,
            {"lookback": 24, "horizon": 12, "features": "X"},
            r"demo\.csv: unknown features mode 'X'; use one of M, S, MS$",
        ),
        (
            400,
            {"lookback": 24, "horizon": 12, "kind": "ett"},
            r"demo\.csv: unknown split kind 'ett'; use one of ett_hour, ett_minute, custom$",
        ),
        (
            10000,
            {"lookback": 96, "horizon": 96, "kind": "ett_hour"},
            r"demo\.csv: series too short: 10000 rows, but lookback 96 \+ horizon 96 with the ETT hourly "
            r"12/4/4-month train/val/test splits needs at least 14400 rows$",
        ),
        (
            15000,
            {"lookback": 96, "horizon": 3000, "kind": "ett_hour"},
            r"demo\.csv: lookback 96 \+ horizon 3000 does not fit the ETT hourly 12/4/4-month splits "
            r"\(train/val/test 8640/2880/2880 rows, val and test plus the lookback\)$",
        ),
    ],
)
def test_bad_arguments_raise_data_errors(n: int, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(DataError, match=message):
        prepare_forecast(make_table(n), **kwargs)


def test_constant_columns_are_named() -> None:
    table = make_table(400, columns=4)
    table.values[:, 0] = 3.0
    table.values[:280, 2] = 1.0  # constant over the train rows [0, 280) only
    with pytest.raises(
        DataError,
        match=r"demo\.csv: constant column\(s\) c0, c2 over the train rows \[0, 280\): "
        r"a constant column cannot be standardised; drop it$",
    ):
        prepare_forecast(table, lookback=24, horizon=12)
    assert prepare_forecast(table, lookback=24, horizon=12, features="S", target="c1").columns == ["c1"]


def test_a_column_too_large_to_standardise_is_named() -> None:
    table = make_table(400, columns=3)
    table.values[:, 1] = 1e300 * (1.0 + table.values[:, 1] / 10.0)  # finite values, infinite variance
    with pytest.raises(DataError, match=r"demo\.csv: column\(s\) c1 \(up to 1\.\d+e\+300\) overflow float64"):
        prepare_forecast(table, lookback=24, horizon=12)
