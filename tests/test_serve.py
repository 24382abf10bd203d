"""``titans-ts serve``: the real server on a loopback port, its forecasts against the in-process ones, restarts after
SIGKILL, concurrent writers, bad requests and the write token."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import torch

from pipelines.series_store import SeriesStore
from tests.serving import HORIZON, LOOKBACK, observation, server, tiny_live_model
from titans_ts.forecasting.estimator import Forecaster
from titans_ts.forecasting.live import LiveModel, scaled
from titans_ts.forecasting.online import online_forecast


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serve") / "live_model.pt"
    tiny_live_model(path)
    return path


def post(url: str, series: str, payload: dict, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{url}/v1/series/{series}/observations", json=payload, timeout=60, **kwargs)


def posted_rows(observations: list[dict]) -> np.ndarray:
    """The (rows, 2) values of ``observations`` one after another."""
    return np.concatenate([np.array([o["values"]["load"], o["values"]["temp"]]).T for o in observations])


def test_forecasts_are_the_online_forecasts_of_the_rows_posted(model_file: Path, tmp_path: Path) -> None:
    live = LiveModel.load(model_file)
    parts = [(0, 5), (5, 30), (35, 1), (36, 21)]  # 57 rows: three blocks of 16 read, in uneven pieces
    with server(model_file, tmp_path / "state.db") as (url, _):
        for first, count in parts:
            assert post(url, "m1", observation(first, count)).status_code == 200
        answer = httpx.get(f"{url}/v1/series/m1/forecast", params={"compare": "frozen"}).json()
        described = httpx.get(f"{url}/v1/series/m1").json()
    rows = posted_rows([observation(first, count) for first, count in parts])
    expected = online_forecast(live.model, scaled(rows, live.moments))[:, 0].double().numpy() * 4.0 + 20.0
    np.testing.assert_allclose(answer["forecast"]["temp"], expected, rtol=1e-12)
    frozen = live.model(scaled(rows[-LOOKBACK:], live.moments)[None])[0][0, :, 0].double().detach().numpy()
    np.testing.assert_allclose(answer["frozen"]["temp"], frozen * 4.0 + 20.0, rtol=1e-6)
    assert not np.allclose(answer["forecast"]["temp"], answer["frozen"]["temp"])  # the memory has learned
    assert answer["timestamps"][0] == "2024-01-03 09:00:00" and len(answer["timestamps"]) == HORIZON
    assert described["rows"] == 57 and described["blocks_read"] == 2 and len(described["recent_surprise"]) == 2
    assert described["last_timestamp"] == "2024-01-03 08:00:00"
    assert described["rows_until_next_block"] == 2 * LOOKBACK - (57 - 2 * LOOKBACK)


def test_a_forecaster_file_serves_its_series_as_update_and_predict_do(tmp_path: Path) -> None:
    stamps = pd.date_range("2024-01-01", periods=120, freq="h")
    t = np.arange(140)
    frame = pd.DataFrame({"unique_id": "north", "ds": stamps, "y": 50 + 10 * np.sin(t[:120] / 4)})
    options = {"d_model": 16, "n_layers": 1, "n_heads": 2, "chunk_size": 4, "patch_len": 4, "stride": 4}
    forecaster = Forecaster(4, 16, "mag", epochs=1, max_train_batches=2, **options).fit(frame)
    forecaster.save(tmp_path / "forecaster.pt")
    new = {
        "timestamps": [str(s) for s in pd.date_range("2024-01-06", periods=20, freq="h")],
        "values": {"y": (50 + 10 * np.sin(t[120:] / 4)).tolist()},
    }
    with server(tmp_path / "forecaster.pt", tmp_path / "state.db") as (url, _):
        assert post(url, "north", new).status_code == 200
        answer = httpx.get(f"{url}/v1/series/north/forecast").json()
    forecaster.update(
        pd.DataFrame({"unique_id": "north", "ds": pd.to_datetime(new["timestamps"]), "y": new["values"]["y"]})
    )
    np.testing.assert_allclose(answer["forecast"]["y"], forecaster.predict()["Titans"].to_numpy(), rtol=1e-12)


def test_a_restart_after_sigkill_loses_no_acknowledged_observation(model_file: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with server(model_file, state) as (url, process):
        for first in range(0, 40, 8):
            assert post(url, "a", observation(first, 8)).status_code == 200
        assert post(url, "b", observation(0, 20, seed=1)).status_code == 200
        before = {s: httpx.get(f"{url}/v1/series/{s}/forecast").json() for s in ("a", "b")}
        described = httpx.get(f"{url}/v1/series/a").json()
        process.kill()  # SIGKILL right after the acknowledged writes
        process.wait()
    with server(model_file, state) as (url, process):
        assert {s: httpx.get(f"{url}/v1/series/{s}/forecast").json() for s in ("a", "b")} == before
        assert httpx.get(f"{url}/v1/series/a").json() == described
        assert post(url, "a", observation(40, 8)).status_code == 200  # and the stream goes on where it was
        assert httpx.get(f"{url}/v1/series").json() == {"series": ["a", "b"]}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM  # a clean stop, with the status of every command
    assert "titans-ts serve: stopped by SIGTERM" in state.with_suffix(".log").read_text()


def test_concurrent_writers_to_one_series_end_as_the_sequential_order(model_file: Path, tmp_path: Path) -> None:
    chunks = [observation(first, 6) for first in range(0, 72, 6)]
    accepted: list[int] = []

    def writer(url: str) -> None:  # posts every chunk in order: each is taken once, a repeat or late copy refused
        with httpx.Client(timeout=60) as client:
            for index, chunk in enumerate(chunks):
                response = client.post(f"{url}/v1/series/c/observations", json=chunk)
                assert response.status_code in (200, 422), response.text
                if response.status_code == 200:
                    accepted.append(index)
                else:
                    assert (
                        "repeats the timestamp" in response.json()["error"] or "is before" in response.json()["error"]
                    )

    with server(model_file, tmp_path / "together.db") as (url, _):
        threads = [threading.Thread(target=writer, args=(url,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        together = httpx.get(f"{url}/v1/series/c/forecast").json(), httpx.get(f"{url}/v1/series/c").json()
    with server(model_file, tmp_path / "in_order.db") as (url, _):
        for chunk in chunks:
            assert post(url, "c", chunk).status_code == 200
        in_order = httpx.get(f"{url}/v1/series/c/forecast").json(), httpx.get(f"{url}/v1/series/c").json()
    assert sorted(accepted) == list(range(len(chunks)))
    assert together == in_order


def test_replicas_sharing_postgresql_take_turns_on_a_series(
    model_file: Path, tmp_path: Path, postgres_url: str
) -> None:
    chunks, accepted = [observation(first, 6) for first in range(0, 60, 6)], []
    with server(model_file, postgres_url) as (first, _), server(model_file, postgres_url) as (second, _):

        def writer(url: str) -> None:  # every chunk in order, through either replica: each taken exactly once
            for index, chunk in enumerate(chunks):
                response = httpx.post(f"{url}/v1/series/shared/observations", json=chunk, timeout=60)
                assert response.status_code in (200, 422), response.text
                if response.status_code == 200:
                    accepted.append(index)

        threads = [threading.Thread(target=writer, args=(url,)) for url in (first, second, first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        shared = [(httpx.get(f"{url}/v1/series/shared/forecast").json(), httpx.get(f"{url}/v1/series/shared").json())
                  for url in (first, second)]  # fmt: skip
    with server(model_file, tmp_path / "in_order.db") as (url, _):
        for chunk in chunks:
            assert post(url, "shared", chunk).status_code == 200
        in_order = httpx.get(f"{url}/v1/series/shared/forecast").json(), httpx.get(f"{url}/v1/series/shared").json()
    assert sorted(accepted) == list(range(len(chunks)))
    assert shared == [in_order, in_order]


def test_different_series_written_concurrently_keep_their_own_streams(model_file: Path, tmp_path: Path) -> None:
    with server(model_file, tmp_path / "state.db") as (url, _):

        def writer(name: str, seed: int) -> None:
            for first in range(0, 40, 10):
                assert post(url, name, observation(first, 10, seed=seed)).status_code == 200

        threads = [threading.Thread(target=writer, args=(f"s{i}", i)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        answers = [httpx.get(f"{url}/v1/series/s{i}/forecast").json()["forecast"] for i in range(4)]
    live = LiveModel.load(model_file)
    for i, answer in enumerate(answers):
        rows = posted_rows([observation(first, 10, seed=i) for first in range(0, 40, 10)])
        expected = online_forecast(live.model, scaled(rows, live.moments))[:, 0].double().numpy() * 4.0 + 20.0
        np.testing.assert_allclose(answer["temp"], expected, rtol=1e-12)


BAD_REQUESTS = [
    ("not json", {"content": b"{oops", "headers": {"content-type": "application/json"}}, 400, "not JSON"),
    ("wrong type", {"content": b"<x/>", "headers": {"content-type": "application/xml"}}, 415, "application/xml"),
    ("missing column", {"json": {"timestamps": ["2024-01-01"], "values": {"load": [1.0]}}}, 422, "missing ['temp']"),
    (
        "unknown column",
        {"json": {"timestamps": ["2024-01-01"], "values": {"load": [1], "temp": [1], "x": [1]}}},
        422,
        "unknown ['x']",
    ),  # fmt: skip
    (
        "not a number",
        {
            "json": {
                "timestamps": ["2024-01-01 00:00", "2024-01-01 01:00"],
                "values": {"load": [1, 2], "temp": [3, "warm"]},
            }
        },
        422,
        "row 2, column 'temp': 'warm' is not a number",
    ),  # fmt: skip
    (
        "NaN",
        {"content": b"date,load,temp\n2024-01-01 00:00,1,NaN\n", "headers": {"content-type": "text/csv"}},
        422,
        "row 1, column 'temp': nan is not a number",
    ),  # fmt: skip
    (
        "not a date",
        {"json": {"timestamps": ["2024-01-01", "soon"], "values": {"load": [1, 2], "temp": [3, 4]}}},
        422,
        "timestamps row 2: 'soon' is not a date",
    ),  # fmt: skip
    (
        "repeat",
        {"json": {"timestamps": ["2024-01-01 00:00", "2024-01-01 00:00"], "values": {"load": [1, 2], "temp": [3, 4]}}},
        422,
        "row 2: 2024-01-01 repeats the timestamp of row 1",
    ),  # fmt: skip
    (
        "gap",
        {"json": {"timestamps": ["2024-01-01 00:00", "2024-01-01 03:00"], "values": {"load": [1, 2], "temp": [3, 4]}}},
        422,
        "row 2: 2024-01-01 03:00:00 leaves a gap of 2 step(s) of 'h' after 2024-01-01 01:00:00",
    ),  # fmt: skip
    (
        "off grid",
        {"json": {"timestamps": ["2024-01-01 00:00", "2024-01-01 01:30"], "values": {"load": [1, 2], "temp": [3, 4]}}},
        422,
        "2024-01-01 01:30:00 is not on the 'h' grid",
    ),  # fmt: skip
    ("too many rows", {"json": observation(0, 30)}, 422, "30 rows in one observation; the service takes at most 25"),
    ("too big", {"content": b"x" * 20_000, "headers": {"content-type": "text/csv"}}, 413, "at most 10000"),
]


def test_bad_requests_get_4xx_with_the_one_line_reason(model_file: Path, tmp_path: Path) -> None:
    with server(model_file, tmp_path / "state.db", "--max-rows", "25", "--max-body", "10000") as (url, _):
        for name, request, status, message in BAD_REQUESTS:
            response = httpx.post(f"{url}/v1/series/bad/observations", timeout=60, **request)
            assert response.status_code == status, (name, response.text)
            assert message in response.json()["error"], (name, response.json())
        assert httpx.get(f"{url}/v1/series/bad").status_code == 404  # nothing of the bad requests was kept
        assert post(url, "bad", observation(0, 10)).status_code == 200
        late = post(url, "bad", observation(3, 10))
        assert late.status_code == 422 and "before the timestamp of the last row observed" in late.json()["error"]
        short = httpx.get(f"{url}/v1/series/bad/forecast")
        assert short.status_code == 422 and "a forecast needs the lookback, 16" in short.json()["error"]
        assert post(url, "bad", observation(10, 10)).status_code == 200
        too_far = httpx.get(f"{url}/v1/series/bad/forecast", params={"horizon": HORIZON + 1})
        assert too_far.status_code == 422 and "outside the model's 1…4" in too_far.json()["error"]
        assert httpx.get(f"{url}/v1/series/bad/forecast", params={"horizon": 0}).status_code == 422
        assert len(httpx.get(f"{url}/v1/series/bad/forecast", params={"horizon": 2}).json()["timestamps"]) == 2
        stamps, load, temp = _columns(20, 3)  # CSV: columns in any order, extra ones ignored
        csv = "date,temp,load,extra\n" + "".join(f"{s},{t},{v},x\n" for s, v, t in zip(stamps, load, temp))
        assert httpx.post(f"{url}/v1/series/bad/observations", content=csv).json()["rows"] == 23


def _columns(first: int, count: int) -> tuple[list, list, list]:
    rows = observation(first, count)
    return rows["timestamps"], rows["values"]["load"], rows["values"]["temp"]


def test_the_token_guards_every_write(model_file: Path, tmp_path: Path) -> None:
    with server(model_file, tmp_path / "state.db", "--token", "s3cret") as (url, _):
        assert post(url, "t", observation(0, 20)).status_code == 401
        wrong = post(url, "t", observation(0, 20), headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401 and "Authorization: Bearer" in wrong.json()["error"]
        assert post(url, "t", observation(0, 20), headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert httpx.get(f"{url}/v1/series/t/forecast").status_code == 200  # reads stay open


def test_a_state_db_of_another_model_is_refused(model_file: Path, tmp_path: Path) -> None:
    with server(model_file, tmp_path / "state.db") as (url, _):
        assert post(url, "x", observation(0, 20)).status_code == 200
    other = tmp_path / "other.pt"
    tiny_live_model(other, variant="mal")
    argv = ["serve", "--model-uri", str(other), "--state-db", str(tmp_path / "state.db")]
    done = subprocess.run([sys.executable, "-m", "pipelines", *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("titans-ts serve: error: sqlite:///") and "holds the series of another model" in (
        done.stderr
    )
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_missing_model_is_one_line(tmp_path: Path) -> None:
    argv = ["serve", "--model-uri", str(tmp_path / "nowhere.pt")]
    done = subprocess.run([sys.executable, "-m", "pipelines", *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.strip() == (
        f"titans-ts serve: error: {tmp_path / 'nowhere.pt'}: no such file, and not an MLflow URI "
        "(runs:/<id>/model, models:/<name>/<version>)"
    )


def test_the_live_model_file_round_trips(model_file: Path, tmp_path: Path) -> None:
    live = LiveModel.load(model_file)
    series = live.new_series("z")
    obs = observation(0, 40)
    dates = pd.to_datetime(obs["timestamps"]).to_numpy().astype("datetime64[us]")
    series.observe(live, dates, np.array([obs["values"]["load"], obs["values"]["temp"]]).T, "test")
    live.series["z"] = series
    live.save(tmp_path / "with_series.pt")
    again = LiveModel.load(tmp_path / "with_series.pt")
    assert again.fingerprint() == live.fingerprint()
    first, second = again.new_series("z").forecast(again, HORIZON), series.forecast(live, HORIZON)
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(first[0], second[0])
    assert json.dumps(again.new_series("z").surprises) == json.dumps(series.surprises)
    assert torch.equal(again.new_series("z").stream.rows, series.stream.rows)


def test_a_store_reads_a_series_again_when_another_replica_wrote_it(model_file: Path, tmp_path: Path) -> None:
    """Two stores on one database (two replicas): each keeps the series it read, and must notice the other's writes."""
    live, url = LiveModel.load(model_file), f"sqlite:///{tmp_path / 'state.db'}"
    first, second = SeriesStore(live, url), SeriesStore(LiveModel.load(model_file), url)
    first.observe("r", observation(0, 20))
    assert second.forecast("r") == first.forecast("r")
    second.observe("r", observation(20, 20))  # the first store's copy is now stale
    assert first.describe("r")["rows"] == 40
    assert first.forecast("r") == second.forecast("r")
    first.observe("r", observation(40, 8))  # continues after the second store's rows, not its own
    assert second.describe("r")["last_timestamp"] == observation(40, 8)["timestamps"][-1]
    for store in (first, second):
        store.close()
