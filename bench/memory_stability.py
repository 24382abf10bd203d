"""Does the memory update stay bounded on keys that point the same way? A float64 sweep over the update rule, depth,
chunk size b, θ and η on streams of correlated keys (``tests/memory_inputs.correlated_stream``: real ETT rows,
ETT-like synthetic series, DNA-like tokens, and i.i.d. random keys for contrast).

For each run: the first token where ‖M‖_F (per sequence, mean over the batch) exceeds 1e6 or is not finite
("diverged at"), the largest ‖M‖_F after a 512-token burn-in, and the relative fit ‖M(k) − v‖² / ‖v‖² of the final
memory on the last 256 tokens. Rows print as they finish (CSV on stdout, or --csv PATH); --markdown appends a table.

    python bench/memory_stability.py --series ../shared/data/ett/ETTh2.csv.gz           # default grid, ~15 min
    python bench/memory_stability.py --regimes dna --depths 2 --etas 0.5 0.9 --thetas 0.1 --chunks 16
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # run from a checkout; the streams live with the tests
from memory_inputs import correlated_stream  # noqa: E402

from titans_ts.ops.memory_update import MemoryOpState, memory_update  # noqa: E402
from titans_ts.ops.memory_update.mlp import mlp_forward  # noqa: E402

FIELDS = ("regime", "update", "depth", "chunk", "theta", "eta", "diverged_at", "max_norm", "fit", "seconds")


def run(stream: dict, chunk: int, update: str, piece: int = 256) -> dict:
    """Feed the stream in pieces of ``piece`` tokens (the state carried), watching ‖M‖ after each piece."""
    names = ("q", "k", "v", "theta", "eta", "alpha")
    state = MemoryOpState.at_chunk_start(stream["weights"], stream["momentum"])
    length, diverged, largest = stream["q"].shape[2], None, 0.0
    for start in range(0, length, piece):
        part = (stream[n][:, :, start : start + piece] for n in names)
        _, state = memory_update(*part, state, chunk, "chunked", update)
        norm = math.sqrt(sum(float(w.pow(2).sum()) for w in state.weights) / state.weights[0].shape[0])
        if not math.isfinite(norm) or norm > 1e6:
            diverged = start + piece
            break
        if start >= 512:
            largest = max(largest, norm)
    fit = float("nan")
    if diverged is None:
        k, v = stream["k"][:, :, -256:], stream["v"][:, :, -256:]
        fit = float(((mlp_forward(state.weights, k) - v).pow(2).sum(-1) / v.pow(2).sum(-1)).mean())
    return {"diverged_at": diverged, "max_norm": round(largest, 3), "fit": round(fit, 4)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--series", help="CSV(.gz) of a real series (date column, then 7 numeric columns, e.g. ETTh2); "
                   "without it the 'series' regime is skipped")
    p.add_argument("--regimes", nargs="+", default=["series", "smooth", "dna", "random"],
                   choices=["series", "smooth", "dna", "random"], help="key streams")
    p.add_argument("--updates", nargs="+", default=["stable", "minibatch"], choices=["stable", "minibatch"],
                   help="update rules")
    p.add_argument("--depths", type=int, nargs="+", default=[1, 2], help="memory depths")
    p.add_argument("--chunks", type=int, nargs="+", default=[1, 16], help="chunk sizes b")
    p.add_argument("--thetas", type=float, nargs="+", default=[0.05, 0.1, 0.2], help="constant θ")
    p.add_argument("--etas", type=float, nargs="+", default=[0.5, 0.7, 0.8, 0.9], help="constant η")
    p.add_argument("--alpha", type=float, default=0.018, help="constant forgetting α")
    p.add_argument("--length", type=int, default=8192, help="tokens per stream")
    p.add_argument("--batch", type=int, default=4, help="streams (sequences) per run")
    p.add_argument("--csv", help="also write the rows to this CSV file")
    p.add_argument("--markdown", help="append the table to this markdown file")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    out = csv.DictWriter(sys.stdout, FIELDS)
    out.writeheader()
    grid = itertools.product(args.regimes, args.depths, args.updates, args.chunks, args.thetas, args.etas)
    for regime, depth, update, chunk, theta, eta in grid:
        if regime == "series" and not args.series:
            continue
        stream = correlated_stream(regime, args.length, args.batch, depth=depth, theta=theta, eta=eta,
                                   alpha=args.alpha, series_path=args.series)
        began = time.perf_counter()
        with torch.no_grad():
            result = run(stream, chunk, update)
        row = {"regime": regime, "update": update, "depth": depth, "chunk": chunk, "theta": theta, "eta": eta,
               **result, "seconds": round(time.perf_counter() - began, 1)}
        rows.append(row)
        out.writerow(row)
        sys.stdout.flush()
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(markdown_table(rows, args.updates) + "\n")


def markdown_table(rows: list[dict], updates: list[str]) -> str:
    """One line per stream and setting, one column per update rule: "diverged at token N", or the largest ‖M‖
    and the final fit."""
    settings: dict[tuple, dict[str, str]] = {}
    for r in rows:
        key = (r["regime"], r["depth"], r["chunk"], r["theta"], r["eta"])
        settings.setdefault(key, {})[r["update"]] = (
            f"diverged at {r['diverged_at']}" if r["diverged_at"] else f"‖M‖ ≤ {r['max_norm']:.2f}, fit {r['fit']:.2f}"
        )
    lines = ["| keys | depth | b | θ | η | " + " | ".join(updates) + " |", "|" + " --- |" * (5 + len(updates))]
    for key, cells in settings.items():
        lines.append("| " + " | ".join(map(str, key)) + " | " + " | ".join(cells.get(u, "–") for u in updates) + " |")
    return "\n".join(lines)

if __name__ == "__main__":
    main()
