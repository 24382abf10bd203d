"""The long-term forecasting table (issue 3): every benchmark dataset x Titans variant, horizons 96/192/336/720 at
lookback 96, each beside a DLinear baseline trained on the same windows in the same run, averaged over the horizons
and set beside the Titans paper's Table 3 (Behrouz et al. 2025, neural memory, MSE/MAE on the scaled data).

Each (dataset, variant) is one ``titans-ts forecast --horizon all`` run, so its four horizons are four MLflow runs in
``forecast/<dataset>``. The section it writes to --markdown (replacing its own earlier section, leaving the rest of
the file alone) holds the table, the command, the machine and the wall-clock.

    python bench/forecast_table.py --models mag --markdown BENCHMARKS.md -- --epochs 10 --patience 3
    python bench/forecast_table.py --resume --run-root runs/table ...   # continue a killed table
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

from pipelines.cli import main as titans_ts
from titans_ts.data import available_datasets

HORIZONS = (96, 192, 336, 720)
# Titans (neural memory) in Table 3 of arXiv 2501.00663: MSE, MAE averaged over the four horizons, lookback 96.
PAPER = {"ETTh1": (0.420, 0.421), "ETTh2": (0.336, 0.382)}
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"  # the project root's sibling
BEGIN, END = "<!-- forecast_table: begin -->", "<!-- forecast_table: end -->"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Everything after -- goes to every `titans-ts forecast` call (e.g. -- --config best.yaml).",
    )
    parser.add_argument(
        "--datasets", nargs="+", metavar="NAME",
        help="benchmarks to run (default: ETTh1, ETTh2 and every other dataset found in --data-dir)",
    )  # fmt: skip
    parser.add_argument(
        "--data-dir", default=str(DATA_DIR), metavar="DIR", help="benchmark folder (default: %(default)s)"
    )
    parser.add_argument("--models", nargs="+", default=["mag"], help="Titans variants (default: %(default)s)")
    parser.add_argument("--horizons", nargs="+", type=int, default=list(HORIZONS), help="(default: 96 192 336 720)")
    parser.add_argument("--lookback", type=int, default=96, help="(default: %(default)s)")
    parser.add_argument("--run-root", default="runs/table", help="checkpoint folders (default: %(default)s)")
    parser.add_argument("--resume", action="store_true", help="continue the runs under --run-root")
    parser.add_argument("--tracking-uri", help="MLflow store (default: as titans-ts forecast)")
    parser.add_argument("--markdown", metavar="PATH", help="write the section into this file (e.g. BENCHMARKS.md)")
    argv = list(sys.argv[1:] if argv is None else argv)
    at = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:at])
    args.argv, args.extra = argv, argv[at + 1 :]
    return args


def datasets(args: argparse.Namespace) -> list[str]:
    """--datasets, else ETTh1, ETTh2 and the other benchmark files of the data directory."""
    if args.datasets:
        return args.datasets
    found = [name for name in available_datasets(args.data_dir) if name not in PAPER]
    return [*PAPER, *sorted(found)]


def run_one(args: argparse.Namespace, dataset: str, model: str) -> list[dict[str, Any]]:
    """One ``titans-ts forecast`` run of every horizon; its per-horizon summaries."""
    run_dir = Path(args.run_root) / f"{dataset}-{model}"
    summary = run_dir.with_suffix(".json")
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
    """Per-horizon rows and the four-horizon averages beside the paper's Table 3."""
    lines = [
        "| dataset | Titans variant | horizon | Titans MSE | Titans MAE | DLinear MSE | DLinear MAE | epochs | "
        "train s | MLflow run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    averages = [
        "| dataset | Titans variant | Titans MSE | Titans MAE | DLinear MSE | DLinear MAE | paper Titans MSE | "
        "paper Titans MAE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, model), rows in results.items():
        for r in rows:
            lines.append(
                f"| {dataset} | {model} | {r['horizon']} | {r['test_mse']:.3f} | {r['test_mae']:.3f} | "
                f"{r['baseline_test_mse']:.3f} | {r['baseline_test_mae']:.3f} | {r['epochs']} | "
                f"{r['train_seconds']:.0f} | {r['mlflow_run_id'][:8]} |"
            )
        mean = {key: sum(r[key] for r in rows) / len(rows) for key in
                ("test_mse", "test_mae", "baseline_test_mse", "baseline_test_mae")}  # fmt: skip
        paper = PAPER.get(dataset)
        paper_text = f"{paper[0]:.3f} | {paper[1]:.3f}" if paper else "— | —"
        averages.append(
            f"| {dataset} | {model} | {mean['test_mse']:.3f} | {mean['test_mae']:.3f} | "
            f"{mean['baseline_test_mse']:.3f} | {mean['baseline_test_mae']:.3f} | {paper_text} |"
        )
    return "\n".join([*averages, "", *lines])


def machine() -> str:
    """CPU model, logical CPUs, torch threads, and the GPU when torch sees one."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), flags=re.M)
        cpu = names[0] if names else cpu
    gpu = f", GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu}, {os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}{gpu}"


def section(args: argparse.Namespace, results: dict[tuple[str, str], list[dict[str, Any]]], seconds: float) -> str:
    command = shlex.join(["python", "bench/forecast_table.py", *args.argv])
    return "\n".join([
        BEGIN,
        "## Long-term forecasting (issue 3): Titans and DLinear, lookback 96, horizons "
        + "/".join(map(str, args.horizons)),
        "",
        f"- date (UTC): {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}",
        f"- machine: {machine()}; torch {torch.__version__}, Python {platform.python_version()}",
        f"- command: `{command}`",
        f"- wall-clock of this command: {seconds / 60:.1f} min"
        + (" (resumed: finished horizons were kept, their train s is from the earlier call)" if args.resume else ""),
        "- protocol: Time-Series-Library splits (ETTh: 12/4/4 months), StandardScaler fitted on the train rows, "
        "MSE/MAE on the scaled data over every test window (stride 1, none dropped); the best checkpoint on "
        "validation MSE is tested. DLinear (shared linear maps, kernel 25) is trained on the same windows in the "
        "same run. Paper: Titans (neural memory) in Table 3 of arXiv 2501.00663, averaged over the four horizons.",
        "",
        table(results),
        END,
    ])  # fmt: skip


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section of ``path`` (between its markers), or append it."""
    old = path.read_text() if path.is_file() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + text + rest.split(END, 1)[1]
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + text + "\n"
    path.write_text(new)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    results = {(dataset, model): run_one(args, dataset, model) for dataset in datasets(args) for model in args.models}
    text = section(args, results, time.perf_counter() - start)
    print(text)
    if args.markdown:
        write_section(Path(args.markdown), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
