"""Bounded load test of `titans-ts serve` on loopback: latency and throughput of observations and forecasts over HTTP,
beside the same calls made in-process on a `SeriesStore`, for 1, 8 and 64 series.

The model is the forecast pipeline's default architecture for ETTh1 (bundled) at lookback 96, horizon 96, features S
(OT alone), with random weights (latency does not depend on training), saved as a live model in a temporary folder.
The real server runs as a subprocess (`python -m pipelines serve --threads 1`, a fresh SQLite state db, loopback).
For each series count: every series is primed with 2 x lookback rows of ETTh1 (one POST, untimed, so that its memory
has read a block), then --requests observations (--rows-per-post rows each, the next rows of the series, never two
posts to one series at once) and then --requests forecasts are sent with --concurrency clients (httpx, async),
round-robin over the series. Per kind: p50 and p99 latency of a call, requests/s over the phase. The same calls then
run sequentially in-process on a `SeriesStore` of its own fresh SQLite file (same store code, no HTTP); the ratio is
HTTP p50 / in-process p50, the service's overhead at that load. Client and server share the machine's cores. The
whole run stops after --time-limit seconds with what it has measured, and the server is killed in all cases.

    python bench/serve_load.py --series 1,8,64 --requests 200 --concurrency 8 --out /tmp/serve_load.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import torch
from sections import machine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout: the server helper of the tests
from pipelines.cli import build_parser, parse
from pipelines.forecast import plan
from pipelines.series_store import SeriesStore
from tests.serving import server  # noqa: E402
from titans_ts.forecasting.data import ForecastData
from titans_ts.forecasting.live import LiveModel
from titans_ts.forecasting.model import TitansForecastNet

KINDS = ("observe", "forecast")
SERIES_GAP = 24  # series i reads the table from row 24·i on: the same data set, a day apart


class Feed:
    """The rows posted to ``n`` series named ``{prefix}-{i}``: each series continues where its last post ended."""

    def __init__(self, data: ForecastData, columns: list[str], prefix: str, n: int) -> None:
        table = data.table
        self.dates = [str(d).replace("T", " ")[:19] for d in table.dates]
        self.values = table.values[:, [table.columns.index(name) for name in columns]]
        self.columns, self.ids, self.sent = columns, [f"{prefix}-{i}" for i in range(n)], [0] * n

    def next(self, i: int, count: int) -> dict[str, Any]:
        """The next ``count`` rows of series ``i`` as an observation (JSON body)."""
        first = SERIES_GAP * i + self.sent[i]
        self.sent[i] += count
        rows = slice(first, first + count)
        values = {name: self.values[rows, j].tolist() for j, name in enumerate(self.columns)}
        return {"timestamps": self.dates[rows], "values": values}


def build_model(args: argparse.Namespace, folder: Path) -> tuple[Path, LiveModel, ForecastData]:
    """The forecast pipeline's default model for --dataset/--lookback/--horizon/--features, random weights, saved."""
    argv = ["forecast", "--dataset", args.dataset, "--features", args.features, "--lookback", str(args.lookback)]
    argv += ["--horizon", str(args.horizon), "--run-dir", str(folder / "run")]
    job = plan(parse(build_parser(), argv), {})[0]
    torch.manual_seed(0)
    data = job.data
    moments = (data.scaler.mean_, data.scaler.scale_)
    live = LiveModel.from_training(TitansForecastNet(job.forecaster), data.columns, data.out_columns,
                                   data.table.dates, moments)  # fmt: skip
    path = folder / "live_model.pt"
    live.save(path)
    return path, live, data


Call = Callable[[int], Awaitable[float]]


async def pool(calls: int, concurrency: int, call: Call, deadline: float) -> dict[str, Any]:
    """``call`` of 0 … ``calls`` − 1 by ``concurrency`` workers until done or ``deadline``: latencies (s), errors and
    wall time (s)."""
    latencies: list[float] = []
    errors = 0
    todo = iter(range(calls))

    async def worker() -> None:
        nonlocal errors
        for k in todo:
            if time.monotonic() > deadline:
                return
            try:
                latencies.append(await call(k))
            except httpx.HTTPError:
                errors += 1

    start = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), deadline - time.monotonic())
    return {"latencies": latencies, "errors": errors, "wall": time.perf_counter() - start}


async def over_http(url: str, feed: Feed, args: argparse.Namespace, deadline: float) -> dict[str, dict[str, Any]]:
    """Prime every series of ``feed``, then time --requests observations and --requests forecasts."""
    n, locks = len(feed.ids), [asyncio.Lock() for _ in feed.ids]
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def observe(k: int, rows: int) -> float:
            i = k % n
            async with locks[i]:  # one post at a time per series, in order: each continues the last
                body = feed.next(i, rows)
                start = time.perf_counter()
                (await client.post(f"/v1/series/{feed.ids[i]}/observations", json=body)).raise_for_status()
                return time.perf_counter() - start

        async def forecast(k: int) -> float:
            start = time.perf_counter()
            (await client.get(f"/v1/series/{feed.ids[k % n]}/forecast")).raise_for_status()
            return time.perf_counter() - start

        primed = await pool(n, args.concurrency, lambda k: observe(k, 2 * args.lookback), deadline)
        if primed["errors"]:
            raise SystemExit(f"priming {n} series failed ({primed['errors']} errors); see the server log")
        return {
            "observe": await pool(args.requests, args.concurrency, lambda k: observe(k, args.rows_per_post), deadline),
            "forecast": await pool(args.requests, args.concurrency, forecast, deadline),
        }


def in_process(store: SeriesStore, feed: Feed, args: argparse.Namespace, deadline: float) -> dict[str, list[float]]:
    """The same calls as ``over_http``, one at a time on ``store``: latencies (s) per kind."""
    n = len(feed.ids)
    latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for i in range(n):
        if time.monotonic() > deadline:
            return latencies
        store.observe(feed.ids[i], feed.next(i, 2 * args.lookback))
    for k in range(2 * args.requests):
        if time.monotonic() > deadline:
            break
        kind, i = KINDS[k // args.requests], k % n
        if kind == "observe":
            body = feed.next(i, args.rows_per_post)
            start = time.perf_counter()
            store.observe(feed.ids[i], body)
        else:
            start = time.perf_counter()
            store.forecast(feed.ids[i])
        latencies[kind].append(time.perf_counter() - start)
    return latencies


def percentile(seconds: list[float], q: float) -> float | None:
    """The ``q``-th percentile of ``seconds`` in ms; None when there are none."""
    return float(np.percentile(seconds, q)) * 1e3 if seconds else None


def row(n: int, kind: str, http: dict[str, Any], local: list[float]) -> dict[str, Any]:
    """One line of the table: HTTP latency percentiles (ms), requests/s, in-process p50 and p99, the p50 ratio."""
    done, p50, local_p50 = len(http["latencies"]), percentile(http["latencies"], 50), percentile(local, 50)
    return {
        "series": n, "kind": kind, "requests": done, "errors": http["errors"], "p50_ms": p50,
        "p99_ms": percentile(http["latencies"], 99), "req_per_s": done / http["wall"] if done else None,
        "inprocess_calls": len(local), "inprocess_p50_ms": local_p50, "inprocess_p99_ms": percentile(local, 99),
        "ratio": p50 / local_p50 if p50 and local_p50 else None,
    }  # fmt: skip


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table of ``rows``; a dash where nothing was measured (time limit)."""
    lines = ["| series | kind | requests | p50 ms | p99 ms | req/s | in-process p50 ms | ratio |", "|---" * 8 + "|"]
    for r in rows:
        values = [r[key] for key in ("p50_ms", "p99_ms", "req_per_s", "inprocess_p50_ms", "ratio")]
        cells = ["–" if v is None else f"{v:.2f}" if key == 4 else f"{v:.1f}" for key, v in enumerate(values)]
        errors = f" ({r['errors']} errors)" if r["errors"] else ""
        lines.append(f"| {r['series']} | {r['kind']} | {r['requests']}{errors} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--series", default="1,8,64", help="series counts to run, comma-separated (default: %(default)s)")
    add("--requests", type=int, default=200, help="timed requests per kind and series count (default: %(default)s)")
    add("--concurrency", type=int, default=8, help="requests in flight at once; observations never more than the "
        "series count, one post at a time per series (default: %(default)s)")  # fmt: skip
    add("--rows-per-post", type=int, default=1, help="rows in each timed observation; 1 is the live case, one new row "
        "per post (default: %(default)s)")  # fmt: skip
    add("--time-limit", type=float, default=300, help="seconds after which the run stops and reports what it has "
        "measured, model building and server start included (default: %(default)s)")  # fmt: skip
    add("--dataset", default="ETTh1", help="data set of the model and of the rows posted (default: %(default)s)")
    add("--features", default="S", choices=("S", "M", "MS"), help="S: the target (OT) alone; M: every column in and "
        "out; MS: every column in, the target out (default: %(default)s)")  # fmt: skip
    add("--lookback", type=int, default=96, help="model lookback L (default: %(default)s)")
    add("--horizon", type=int, default=96, help="model horizon (default: %(default)s)")
    add("--out", metavar="FILE", help="also write the results (options, model shapes, machine, table) as JSON to FILE")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.series.split(",")]
    deadline = time.monotonic() + args.time_limit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the server is killed on SIGTERM too
    torch.set_num_threads(1)  # as the server's --threads 1
    load_start = os.getloadavg()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="serve-load-") as scratch:
        folder = Path(scratch)
        path, live, data = build_model(args, folder)
        config = live.model.config
        backbone = config.backbone
        shapes = {
            "dataset": args.dataset, "features": args.features, "columns": live.columns, "lookback": config.lookback,
            "horizon": config.horizon, "patch_len": config.patch_len, "stride": config.stride,
            "tokens": config.n_patches, "variant": backbone.variant, "d_model": backbone.d_model,
            "n_layers": backbone.n_layers, "n_heads": backbone.n_heads, "memory_depth": backbone.memory_depth,
            "chunk_size": backbone.chunk_size, "parameters": sum(p.numel() for p in live.model.parameters()),
        }  # fmt: skip
        print("model (random weights: latency does not depend on training): "
              + ", ".join(f"{k} {v}" for k, v in shapes.items()), flush=True)  # fmt: skip
        store = SeriesStore(LiveModel.load(path), f"sqlite:///{folder / 'inprocess.db'}")
        try:
            timeout = max(1.0, deadline - time.monotonic())
            with server(path, folder / "serve.db", timeout=timeout) as (url, _):
                for n in counts:
                    if time.monotonic() > deadline:
                        break
                    http = asyncio.run(over_http(url, Feed(data, live.columns, f"http{n}", n), args, deadline))
                    local = in_process(store, Feed(data, live.columns, f"local{n}", n), args, deadline)
                    rows += [row(n, kind, http[kind], local[kind]) for kind in KINDS]
                    print(f"{n} series done", flush=True)
        finally:
            store.close()
    stopped = time.monotonic() > deadline
    load = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(load_start, os.getloadavg(), strict=True))
    print(f"\n{machine()}; load average 1/5/15 min (start/end): {load}")
    print(f"{args.requests} requests per kind, concurrency {args.concurrency}, {args.rows_per_post} row(s) per post"
          + (f"; STOPPED at the {args.time_limit:.0f} s time limit" if stopped else "") + "\n")  # fmt: skip
    print(markdown(rows))
    if args.out:
        result = {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), "machine": machine(),
            "load_start": load_start, "load_end": os.getloadavg(), "options": vars(args), "model": shapes,
            "stopped_by_time_limit": stopped, "rows": rows,
        }  # fmt: skip
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
