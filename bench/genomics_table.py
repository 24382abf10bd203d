"""The GUE table (issue 16): every GUE task in the data directory, Titans beside the Genomic Benchmarks CNN trained on
the same splits in the same run, and beside the GUE results DNABERT-2 reports for pre-trained models (MCC × 100);
then a row per Genomic Benchmarks set that ships only its test split, split 80/20 by itself (not comparable with the
Titans paper's Table 4).

Each (task, variant) is one ``titans-ts classify`` run, so one MLflow run in ``classify/<task>``, with the
configuration file of its task family (``bench/configs/gue-<family>.yaml``: prom_core, prom_300, tf, mouse; the
test-only sets use ``gb-test-split.yaml``) chosen on dev; options after ``--`` override it. GUE's protocol: train on
train, pick the checkpoint on dev MCC, score test once. The section written to --markdown (replacing its own earlier
section) holds the table, the command, the machine, the date and the time of every task.

    python bench/genomics_table.py --markdown BENCHMARKS.md                       # every task found, family configs
    python bench/genomics_table.py --datasets gue_mouse_3 gue_tf_2 -- --epochs 2  # a few tasks, fewer epochs
    python bench/genomics_table.py --resume --markdown BENCHMARKS.md              # finished tasks are kept
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

import numpy as np
import torch
from sections import machine, parse_table_args, run_table, table_parser

from genomics.catalog import available_benchmarks
from genomics.paper import GUE, GUE_MODELS
from pipelines.cli import main as titans_ts

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "genomic"  # the project root's sibling
CONFIGS = Path(__file__).resolve().parent / "configs"
FAMILIES = ("prom_core", "prom_300", "tf", "mouse")
TEST_SPLIT_CONFIG = "gb-test-split.yaml"
SCORE_SUFFIXES = ("mcc", "accuracy", "f1", "auroc")
BEGIN, END = "<!-- genomics_table: begin -->", "<!-- genomics_table: end -->"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    datasets_help = "every GUE task in --data-dir, then every set there with a test split only"
    parser = table_parser(__doc__, "classify", "--epochs 5", datasets_help, DATA_DIR, "runs/genomics_table", "lmm")
    return parse_table_args(parser, argv)


def test_only(args: argparse.Namespace, dataset: str) -> bool:
    """Whether ``dataset``'s folder ships its test split alone (no train.csv.gz)."""
    return not (Path(args.data_dir) / dataset / "train.csv.gz").is_file()


def datasets(args: argparse.Namespace) -> list[str]:
    """--datasets, else the GUE tasks (folders with a dev split) of the data directory, then the test-only sets."""
    if args.datasets:
        return args.datasets
    found = [name for name in available_benchmarks(args.data_dir) if name != "demo"]
    gue = [name for name in found if (Path(args.data_dir) / name / "dev.csv.gz").is_file()]
    return [*gue, *(name for name in found if test_only(args, name))]


def config_of(args: argparse.Namespace, dataset: str) -> Path:
    """The configuration file of ``dataset``'s task family (``gue-<family>.yaml``), or of the test-only sets."""
    if test_only(args, dataset):
        return CONFIGS / TEST_SPLIT_CONFIG
    family = next((f for f in FAMILIES if dataset.removeprefix("gue_").startswith(f)), None)
    if family is None:
        raise SystemExit(f"{dataset}: not a GUE task of a known family ({', '.join(FAMILIES)}); no configuration")
    return CONFIGS / f"gue-{family}.yaml"


def run_one(args: argparse.Namespace, dataset: str, model: str) -> dict[str, Any]:
    """One ``titans-ts classify`` run; its summary with the wall-clock of the whole call (``wall_seconds``), kept in
    ``<run root>/<task>-<model>.json`` so that --resume reports a finished task without running it again."""
    run_dir = Path(args.run_root) / f"{dataset}-{model}"
    summary = run_dir.with_suffix(".json")
    if args.resume and summary.is_file() and "wall_seconds" in (done := json.loads(summary.read_text())):
        return done
    folder = Path(args.data_dir) / dataset
    data = ["--data", str(folder / "test.csv.gz"), "--test-fraction", "0.2"] if test_only(args, dataset) else [
        "--dataset", dataset, "--data-dir", args.data_dir]  # fmt: skip
    argv = [
        "classify", *data, "--config", str(config_of(args, dataset)), "--model", model,
        "--run-dir", str(run_dir), "--summary-json", str(summary),
        *(["--tracking-uri", args.tracking_uri] if args.tracking_uri else []),
        *(["--resume"] if args.resume and run_dir.is_dir() else []), *args.extra,
    ]  # fmt: skip
    start = time.perf_counter()
    code = titans_ts(argv)
    if code:
        raise SystemExit(f"titans-ts {shlex.join(argv)} failed with exit status {code}")
    result = {**json.loads(summary.read_text()), "wall_seconds": time.perf_counter() - start}
    summary.write_text(json.dumps(result, indent=2))
    return result


def scores(r: dict[str, Any], prefix: str) -> str:
    """MCC × 100, accuracy %, F1 and AUROC of the Titans (``prefix`` "") or CNN (``prefix`` "baseline_") model."""
    return (
        f"{100 * r[f'{prefix}test_mcc']:.1f} | {100 * r[f'{prefix}test_accuracy']:.1f} | {r[f'{prefix}test_f1']:.3f} | "
        f"{r[f'{prefix}test_auroc']:.3f}"
    )


def table(results: dict[tuple[str, str], dict[str, Any]]) -> str:
    """GUE rows beside the published MCCs, their mean, then the test-only rows."""
    published = " | ".join(GUE_MODELS)
    lines = [
        f"| task | Titans variant | MCC | acc % | F1 | AUROC | CNN MCC | CNN acc % | CNN F1 | CNN AUROC | "
        f"{published} | Titans epochs | Titans train s | CNN train s | wall-clock s | MLflow run |",
        "|---" * 17 + "|",
    ]
    gue = {key: r for key, r in results.items() if key[0] in GUE}
    for (dataset, model), r in gue.items():
        reference = " | ".join(f"{value:.2f}" for value in GUE[dataset])
        lines.append(
            f"| {dataset.removeprefix('gue_')} | {model} | {scores(r, '')} | {scores(r, 'baseline_')} | {reference} | "
            f"{r['epochs']} | {r['train_seconds']:.0f} | {r['baseline_train_seconds']:.0f} | {r['wall_seconds']:.0f} | "
            f"{r['mlflow_run_id'][:8]} |"
        )
    for model in sorted({model for _, model in gue}):
        rows = [r for (_, m), r in gue.items() if m == model]
        tasks = [dataset for dataset, m in gue if m == model]
        mean = {key: np.mean([r[key] for r in rows]) for key in rows[0] if key.endswith(SCORE_SUFFIXES)}
        reference = " | ".join(f"{np.mean([GUE[t][i] for t in tasks]):.2f}" for i in range(len(GUE_MODELS)))
        seconds = sum(r["wall_seconds"] for r in rows)
        lines.append(
            f"| **mean of {len(rows)}** | {model} | {scores(mean, '')} | {scores(mean, 'baseline_')} | {reference} | | "
            f"{sum(r['train_seconds'] for r in rows):.0f} | {sum(r['baseline_train_seconds'] for r in rows):.0f} | "
            f"{seconds:.0f} | |"
        )
    for (dataset, model), r in results.items():
        if dataset not in GUE:
            lines.append(
                f"| {dataset} (own 80/20 split of its test file; not Table 4) | {model} | {scores(r, '')} | "
                f"{scores(r, 'baseline_')} | — | — | — | {r['epochs']} | {r['train_seconds']:.0f} | "
                f"{r['baseline_train_seconds']:.0f} | {r['wall_seconds']:.0f} | {r['mlflow_run_id'][:8]} |"
            )
    return "\n".join(lines)


def section(args: argparse.Namespace, results: dict[tuple[str, str], dict[str, Any]], seconds: float) -> str:
    command = shlex.join(["python", "bench/genomics_table.py", *args.argv])
    gue = [r for (dataset, _), r in results.items() if dataset in GUE]
    wins = sum(r["test_mcc"] > r["baseline_test_mcc"] for r in gue)
    longest = max(results.items(), key=lambda item: item[1]["wall_seconds"])
    total = sum(r["wall_seconds"] for r in results.values())
    return "\n".join([
        BEGIN,
        "## Genomic sequence classification on GUE (issue 16): Titans from scratch, the Genomic Benchmarks CNN, and "
        "the published pre-trained models",
        "",
        f"- date (UTC): {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}",
        f"- machine: {machine()}; torch {torch.__version__}, Python {platform.python_version()}",
        f"- command: `{command}`",
        f"- time: {total / 60:.1f} min for all tasks, one after the other, each on the threads of its configuration "
        f"(the wall-clock s column: both models, MLflow logging and model export); the longest task "
        f"{longest[0][0]}, {longest[1]['wall_seconds'] / 60:.1f} min"
        + (f"; this call {seconds / 60:.1f} min (finished tasks kept from earlier calls)" if args.resume else ""),
        "- protocol (GUE's): train on the official train split, pick the checkpoint (and stop early) on the dev "
        "split's MCC, score the test split once. Both models see the same splits (Titans in the k-mers of its "
        "configuration, the CNN in single bases, as published), reverse-complement augmentation in training and "
        "strand-averaged probabilities in validation and test. Titans is trained from scratch on this machine; the "
        f"{', '.join(GUE_MODELS)} columns are the MCC × 100 that DNABERT-2's paper (Zhou et al., ICLR 2024) reports "
        "for models pre-trained on genomes and then fine-tuned. Configurations: `bench/configs/gue-*.yaml`, one per "
        "task family, chosen on dev.",
        f"- Titans ahead of the CNN (test MCC) on {wins} of {len(gue)} GUE tasks.",
        "",
        table(results),
        END,
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_table(args, datasets(args), run_one, section, (BEGIN, END))


if __name__ == "__main__":
    sys.exit(main())
