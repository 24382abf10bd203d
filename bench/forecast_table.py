"""The long-term forecasting table (issues 3, 17): every benchmark dataset x Titans variant, horizons 96/192/336/720
at lookback 96, each beside a DLinear baseline (and, with `-- --patchtst`, PatchTST) trained on the same windows in the
same run, averaged over the horizons and set beside the Titans paper's Table 3 (Behrouz et al. 2025, neural memory,
MSE/MAE on the scaled data).

Each (dataset, variant) is one ``titans-ts forecast --horizon all`` run, so its four horizons are four MLflow runs in
``forecast/<dataset>``. The section it writes to --markdown (replacing its own earlier section, leaving the rest of
the file alone) holds the table, the command, the machine and the wall-clock.

    python bench/forecast_table.py --models mag --markdown BENCHMARKS.md -- --epochs 10 --patience 3 --patchtst
    python bench/forecast_table.py --resume --run-root runs/table ...   # continue a killed table
    python bench/forecast_table.py --report --run-root runs/table ...   # the section so far, while it runs elsewhere
    python bench/forecast_table.py --label online ... -- --online         # adds the online-vs-frozen table
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

import torch
from sections import machine, parse_table_args, run_table, table_parser

from pipelines.cli import main as titans_ts
from titans_ts.forecasting.data import available_datasets
from titans_ts.forecasting.paper import TABLE3, table3

HORIZONS = (96, 192, 336, 720)
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"  # the project root's sibling


def markers(label: str) -> tuple[str, str]:
    """The begin and end markers of the section that a table with ``label`` owns in the markdown file."""
    name = f"forecast_table{':' + label if label else ''}"
    return f"<!-- {name}: begin -->", f"<!-- {name}: end -->"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    datasets_help = "the five of the paper's Table 3 found in --data-dir, then every other one there"
    parser = table_parser(__doc__, "forecast", "--config best.yaml", datasets_help, DATA_DIR, "runs/table", "mag")
    parser.add_argument("--horizons", nargs="+", type=int, default=list(HORIZONS), help="(default: 96 192 336 720)")
    parser.add_argument("--lookback", type=int, default=96, help="(default: %(default)s)")
    parser.add_argument(
        "--label", default="", help="name of this table, so several tables (other configs) keep their own sections"
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="train nothing: write the section from the horizons finished so far under --run-root (a table still "
        "running in other processes); a data set's means then cover only its finished horizons",
    )
    return parse_table_args(parser, argv)


def datasets(args: argparse.Namespace) -> list[str]:
    """--datasets, else the data sets of the paper's Table 3 found in the data directory (by their file names, e.g.
    "weather"), then the other benchmark files there."""
    if args.datasets:
        return args.datasets
    found = list(available_datasets(args.data_dir))
    paper = [name for reported in TABLE3 for name in found if name.lower() == reported.lower()]
    return [*paper, *sorted(name for name in found if name not in paper)]


def run_one(args: argparse.Namespace, dataset: str, model: str) -> list[dict[str, Any]]:
    """One ``titans-ts forecast`` run of every horizon; its per-horizon summaries."""
    run_dir = Path(args.run_root) / f"{dataset}-{model}"
    summary = run_dir.with_suffix(".json")
    if args.report:
        return json.loads(summary.read_text()) if summary.is_file() else []
    argv = [
        "forecast", "--dataset", dataset, "--model", model, "--lookback", str(args.lookback),
        "--horizon", *map(str, args.horizons), "--run-dir", str(run_dir), "--summary-json", str(summary),
        "--data-dir", args.data_dir,
        *(["--tracking-uri", args.tracking_uri] if args.tracking_uri else []),
        *(["--resume"] if args.resume and run_dir.is_dir() else []), *args.extra,
    ]  # fmt: skip
    code = titans_ts(argv)
    if code:
        raise SystemExit(f"titans-ts {shlex.join(argv)} failed with exit status {code}")
    return json.loads(summary.read_text())


def table(results: dict[tuple[str, str], list[dict[str, Any]]]) -> str:
    """The four-horizon averages beside the paper's Table 3 (with the validation MSE, the number to choose a
    configuration by, and Titans' MSE over the best peer's), then the per-horizon rows; PatchTST's columns show "—"
    for runs made without --patchtst."""
    averages = [
        "| dataset | Titans variant | Titans val MSE | Titans MSE | Titans MAE | DLinear MSE | DLinear MAE | "
        "PatchTST MSE | PatchTST MAE | Titans / best peer MSE | paper Titans MSE | paper Titans MAE |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines = [
        "| dataset | Titans variant | horizon | Titans MSE | Titans MAE | DLinear MSE | DLinear MAE | PatchTST MSE | "
        "PatchTST MAE | epochs Titans / PatchTST | train s Titans / DLinear / PatchTST | job s | MLflow run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, model), rows in results.items():
        if not rows:
            continue
        for r in rows:
            lines.append(
                f"| {dataset} | {model} | {r['horizon']} | {r['test_mse']:.3f} | {r['test_mae']:.3f} | "
                f"{r['baseline_test_mse']:.3f} | {r['baseline_test_mae']:.3f} | {_peer(r, 'test_mse')} | "
                f"{_peer(r, 'test_mae')} | {r['epochs']} / {_peer(r, 'epochs', '{}')} | {r['train_seconds']:.0f} / "
                f"{_peer(r, 'train_seconds', '{:.0f}', 'baseline')} / {_peer(r, 'train_seconds', '{:.0f}')} | "
                f"{_peer(r, 'job_seconds', '{:.0f}', '')} | {r['mlflow_run_id'][:8]} |"
            )
        mean = {key: _mean(rows, key) for key in
                ("val_mse", "test_mse", "test_mae", "baseline_test_mse", "baseline_test_mae", "patchtst_test_mse",
                 "patchtst_test_mae")}  # fmt: skip
        peers = [value for value in (mean["baseline_test_mse"], mean["patchtst_test_mse"]) if value is not None]
        paper = table3(dataset)
        paper_text = f"{paper[0]:.3f} | {paper[1]:.3f}" if paper else "— | —"
        name = dataset if len(rows) == len(HORIZONS) else f"{dataset} (H{'/'.join(str(r['horizon']) for r in rows)})"
        averages.append(
            f"| {name} | {model} | {mean['val_mse']:.3f} | {mean['test_mse']:.3f} | {mean['test_mae']:.3f} | "
            f"{mean['baseline_test_mse']:.3f} | {mean['baseline_test_mae']:.3f} | {_text(mean['patchtst_test_mse'])} | "
            f"{_text(mean['patchtst_test_mae'])} | {mean['test_mse'] / min(peers):.3f} | {paper_text} |"
        )
    seconds = [r.get("job_seconds") for rows in results.values() for r in rows]
    total = (
        f"Process time of the rows above (sum of every horizon's job: training, testing, logging of all models): "
        f"{sum(seconds) / 3600:.2f} h."
        if None not in seconds
        else ""
    )
    return "\n".join([*averages, "", *lines, "", total, *online_table(results)])


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    """The mean of ``key`` over ``rows``, or None unless every row has it."""
    values = [r.get(key) for r in rows]
    return None if None in values else sum(values) / len(values)


def _text(value: float | None, form: str = "{:.3f}") -> str:
    return "—" if value is None else form.format(value)


def _peer(r: dict[str, Any], key: str, form: str = "{:.3f}", model: str = "patchtst") -> str:
    """``r[<model>_<key>]`` (``key`` alone when ``model`` is "") as text, "—" when the run has none."""
    return _text(r.get(f"{model}_{key}" if model else key), form)


def online_table(results: dict[tuple[str, str], list[dict[str, Any]]]) -> list[str]:
    """Frozen, online memory and online fine-tuning per horizon and on average, with the time per test window of each
    (only for runs made with --online)."""
    rows = [(dataset, model, r) for (dataset, model), runs in results.items() for r in runs if "online_test_mse" in r]
    if not rows:
        return []
    lines = [
        "",
        "Online (`--online`), the same checkpoint read three ways over the test split as one stream: frozen (every "
        "window from M_0, as trained), online memory (the memories keep memorising, trained weights fixed) and online "
        "fine-tuning (memory frozen, every weight updated by Adam on each revealed block, its learning rate chosen "
        "on the validation split); MSE / MAE, and ms per test window (frozen / memory / fine-tuning):",
        "",
        "| dataset | Titans variant | horizon | frozen | online memory | online fine-tuning (lr) | memory − frozen MSE "
        "| memory − fine-tuning MSE | ms per window |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for dataset, model, r in rows:
        groups.setdefault((dataset, model), []).append(r)
    keys = [f"{name}_{metric}" for name in ("test", "online_test", "finetune_test") for metric in ("mse", "mae")]
    seconds = [f"{name}_seconds_per_window" for name in ("frozen", "online", "finetune")]
    for (dataset, model), runs in groups.items():
        mean = {key: sum(r[key] for r in runs) / len(runs) for key in keys + seconds}
        for r in [*runs, {**mean, "horizon": "mean", "finetune_lr": None}]:
            diverged = r.get("online_diverged_window")
            note = f" (diverged at test window {diverged})" if diverged is not None else ""
            lr = f" ({r['finetune_lr']:g})" if r["finetune_lr"] is not None else ""
            ms = " / ".join(f"{1000 * r[key]:.2f}" for key in seconds)
            lines.append(
                f"| {dataset} | {model} | {r['horizon']} | {r['test_mse']:.3f} / {r['test_mae']:.3f} | "
                f"{r['online_test_mse']:.3f} / {r['online_test_mae']:.3f}{note} | "
                f"{r['finetune_test_mse']:.3f} / {r['finetune_test_mae']:.3f}{lr} | "
                f"{r['online_test_mse'] - r['test_mse']:+.4f} | {r['online_test_mse'] - r['finetune_test_mse']:+.4f} | "
                f"{ms} |"
            )
    return lines


def section(args: argparse.Namespace, results: dict[tuple[str, str], list[dict[str, Any]]], seconds: float) -> str:
    command = shlex.join(["python", "bench/forecast_table.py", *args.argv])
    return "\n".join([
        markers(args.label)[0],
        f"## Long-term forecasting (issue 3){', ' + args.label if args.label else ''}: Titans and its peers, "
        f"lookback 96, horizons {'/'.join(map(str, args.horizons))}",
        "",
        f"- date (UTC): {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}",
        f"- machine: {machine()}; torch {torch.__version__}, Python {platform.python_version()}",
        f"- command: `{command}`",
        f"- wall-clock of this command: {seconds / 60:.1f} min"
        + (" (resumed: finished horizons were kept, their train s is from the earlier call)" if args.resume else ""),
        "- protocol: Time-Series-Library splits (ETTh: 12/4/4 months), StandardScaler fitted on the train rows, "
        "MSE/MAE on the scaled data over every test window (stride 1, none dropped); the best checkpoint on "
        "validation MSE is tested. DLinear (shared linear maps, kernel 25) and, where shown, PatchTST (its authors' "
        "encoder for the data set, at the command's --patchtst-lr) are trained on the same windows with the same "
        "budget in the same run. "
        "Paper: Titans (neural memory) in Table 3 of arXiv 2501.00663, averaged over the four horizons.",
        "",
        table(results),
        markers(args.label)[1],
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_table(args, datasets(args), run_one, section, markers(args.label))


if __name__ == "__main__":
    sys.exit(main())
