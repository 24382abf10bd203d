"""The genomic classification table (issue 4): every Genomic Benchmarks data set in the data directory and the bundled
demo set, Titans beside the Genomic Benchmarks CNN trained on the same splits in the same run, and beside the Titans
paper's Table 4 (Behrouz et al. 2025: neural memory and the GB CNN, top-1 test accuracy %).

Each (data set, variant) is one ``titans-ts classify`` run, so one MLflow run in ``classify/<dataset>``. The section
it writes to --markdown (replacing its own earlier section, leaving the rest of the file alone) holds the table, the
command, the machine, the date and the wall-clock of each data set.

    python bench/genomics_table.py --markdown BENCHMARKS.md                  # every data set found, default options
    python bench/genomics_table.py --datasets demo --markdown BENCHMARKS.md -- --epochs 5
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
from sections import machine, parse_table_args, run_table, table_parser

from genomics.catalog import available_benchmarks
from genomics.paper import TABLE4 as PAPER
from pipelines.cli import main as titans_ts

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "genomic"  # the project root's sibling
BEGIN, END = "<!-- genomics_table: begin -->", "<!-- genomics_table: end -->"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    datasets_help = "every Genomic Benchmarks folder in --data-dir, then the bundled demo"
    parser = table_parser(__doc__, "classify", "--epochs 5", datasets_help, DATA_DIR, "runs/genomics_table", "lmm")
    return parse_table_args(parser, argv)


def datasets(args: argparse.Namespace) -> list[str]:
    """--datasets, else the Genomic Benchmarks folders of the data directory and then the bundled demo set."""
    if args.datasets:
        return args.datasets
    found = [name for name in available_benchmarks(args.data_dir) if name != "demo"]
    return [*found, "demo"]


def run_one(args: argparse.Namespace, dataset: str, model: str) -> dict[str, Any]:
    """One ``titans-ts classify`` run; its summary with the wall-clock of the whole call (``wall_seconds``)."""
    run_dir = Path(args.run_root) / f"{dataset}-{model}"
    summary = run_dir.with_suffix(".json")
    argv = [
        "classify", "--dataset", dataset, "--model", model, "--data-dir", args.data_dir,
        "--run-dir", str(run_dir), "--summary-json", str(summary),
        *(["--tracking-uri", args.tracking_uri] if args.tracking_uri else []),
        *(["--resume"] if args.resume and run_dir.is_dir() else []), *args.extra,
    ]  # fmt: skip
    start = time.perf_counter()
    code = titans_ts(argv)
    if code:
        raise SystemExit(f"titans-ts {shlex.join(argv)} failed with exit status {code}")
    return {**json.loads(summary.read_text()), "wall_seconds": time.perf_counter() - start}


def table(results: dict[tuple[str, str], dict[str, Any]]) -> str:
    """One row per run, then the paper's rows of the data sets that were not run."""
    lines = [
        "| data set | Titans variant | Titans acc % | Titans F1 | Titans MCC | CNN acc % | CNN F1 | "
        "paper Titans acc % | paper GB CNN acc % | epochs | Titans train s | wall-clock s | MLflow run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, model), r in results.items():
        paper = PAPER.get(dataset)
        paper_text = f"{paper[0]:.1f} | {paper[1]:.1f}" if paper else "— | —"
        lines.append(
            f"| {dataset} | {model} | {100 * r['test_accuracy']:.1f} | {r['test_f1']:.3f} | {r['test_mcc']:.3f} | "
            f"{100 * r['baseline_test_accuracy']:.1f} | {r['baseline_test_f1']:.3f} | {paper_text} | {r['epochs']} | "
            f"{r['train_seconds']:.0f} | {r['wall_seconds']:.0f} | {r['mlflow_run_id'][:8]} |"
        )
    run = {dataset for dataset, _ in results}
    for dataset, (titans, cnn) in PAPER.items():
        if dataset not in run:
            empty = " — |" * 5
            lines.append(f"| {dataset} | not run: data absent |{empty} {titans:.1f} | {cnn:.1f} |{empty[:-4]}")
    return "\n".join(lines)


def section(args: argparse.Namespace, results: dict[tuple[str, str], dict[str, Any]], seconds: float) -> str:
    command = shlex.join(["python", "bench/genomics_table.py", *args.argv])
    missing = [name for name in PAPER if name not in {dataset for dataset, _ in results}]
    absent = (
        f"- **Genomic Benchmarks data absent here**: {', '.join(missing)} are not in `{args.data_dir}` (see "
        "`../shared/data/README.md`: the upstream package builds the sequences from the GRCh38 genome at install time, "
        "which this machine cannot fetch). Their rows hold the paper's numbers only; nothing here measures Table 4. "
        "The demo set is a planted-motif task (TATAAA or GGGCGG on either strand in half of 100-base random "
        "sequences), a check that the pipeline learns, not a benchmark."
        if missing
        else ""
    )
    return "\n".join([
        BEGIN,
        "## Genomic sequence classification (issue 4): Titans and the Genomic Benchmarks CNN, top-1 test accuracy",
        "",
        f"- date (UTC): {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}",
        f"- machine: {machine()}; torch {torch.__version__}, Python {platform.python_version()}",
        f"- command: `{command}`",
        f"- wall-clock of this command: {seconds / 60:.1f} min (per data set: the wall-clock s column, which includes "
        "both models, the MLflow logging and the model export)"
        + (" (resumed: finished runs were kept, their figures are from the earlier call)" if args.resume else ""),
        "- protocol: the data set's own test split, untouched until the end; a stratified 10 % validation split of "
        "train picks the tested checkpoint (best validation accuracy) and stops training early; both models see the "
        "same splits, reverse-complement augmentation in training and strand-averaged probabilities in validation "
        "and test. Trained from scratch (the paper's models were pre-trained on the human genome). Paper: Table 4 of "
        "arXiv 2501.00663, neural memory and the Genomic Benchmarks CNN.",
        *([absent] if absent else []),
        "",
        table(results),
        END,
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_table(args, datasets(args), run_one, section, (BEGIN, END))


if __name__ == "__main__":
    sys.exit(main())
