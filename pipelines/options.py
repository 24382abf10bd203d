"""Command-line options shared by the pipelines: the Titans backbone, training and run options, the --quick and
--config presets, and the run folder they resolve to."""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pipelines.config_file import config_tokens, read_config
from titans_ts.config import VARIANTS, TitansConfig
from titans_ts.errors import DataError
from titans_ts.ops.memory_update import UPDATE_RULES
from titans_ts.training.settings import DEVICES, TrainSettings

Plan = TypeVar("Plan")

# Options that say where a run is stored, not what it computes: logged as parameters, left out of config.yaml.
RUN_ONLY = ("config", "run_dir", "resume", "summary_json", "tracking_uri")
BACKBONE_DEFAULTS: dict[str, Any] = {
    "model": "mag",
    "d_model": 64,
    "n_layers": 2,
    "n_heads": 4,
    "memory_depth": 2,
    "memory_expansion": 2,
    "chunk_size": 16,
    "theta_max": 0.1,
    "eta_max": 0.9,
    "segment_size": 32,
    "window": 32,
    "n_persistent": 4,
    "dropout": 0.1,
}
_BACKBONE_HELP = {
    "d_model": "width of the backbone",
    "n_layers": "Titans blocks",
    "n_heads": "heads of attention and memory",
    "memory_depth": "layers of the memory MLP, 1 = linear memory",
    "memory_expansion": "hidden width of the memory MLP per head width",
    "chunk_size": "tokens per memory-update mini-batch (their surprise gradients are taken at the chunk-start memory)",
    "theta_max": "upper bound of the memory's learning rate θ_t",
    "eta_max": "upper bound of the memory's momentum decay η_t (below 1)",
    "segment_size": "MAC segment length in tokens",
    "window": "MAG/MAL sliding attention window in tokens",
    "n_persistent": "persistent memory tokens",
    "dropout": "dropout inside the backbone",
}


def add_backbone_arguments(group: argparse._ArgumentGroup, **defaults: Any) -> None:
    """Register --model and the Titans backbone options on ``group``; ``defaults`` (by dest) replace
    ``BACKBONE_DEFAULTS``."""
    values = {**BACKBONE_DEFAULTS, **defaults}
    group.add_argument(
        "--model",
        choices=VARIANTS,
        default=values["model"],
        help="mac: memory as context; mag: memory as gate; mal: memory as layer; lmm: memory alone "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--memory-update",
        choices=UPDATE_RULES,
        default=values.get("memory_update", "stable"),
        help="stable: each token's gradient at the memory after the previous token (linear memory) or the paper's "
        "chunk gradients with a causal step cap (deep memory); minibatch: the paper's Eq. 16 as written, every "
        "gradient of a chunk at its start memory (default: %(default)s)",
    )
    for dest, text in _BACKBONE_HELP.items():
        kind = float if isinstance(BACKBONE_DEFAULTS[dest], float) else int
        flag = "--" + dest.replace("_", "-")
        group.add_argument(flag, type=kind, default=values[dest], help=f"{text} (default: %(default)s)")


def backbone_config(args: argparse.Namespace) -> TitansConfig:
    """The ``TitansConfig`` of the backbone options in ``args``; ValueError for inconsistent values."""
    chosen = {dest: getattr(args, dest) for dest in (*_BACKBONE_HELP, "memory_update")}
    return TitansConfig(variant=args.model, **chosen)


def add_training_arguments(
    group: argparse._ArgumentGroup, baseline: str, item: str, metric: str, quick_batches: int, baseline_lr: float
) -> None:
    """Register the training options of Titans and of the ``baseline`` model on ``group``: learning rates, ``item``s
    per batch, epochs, early-stopping patience on the validation ``metric``, batch cap, seed, device and threads."""
    group.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of Titans (default: %(default)s)")
    group.add_argument(
        "--baseline-lr",
        type=float,
        default=baseline_lr,
        help=f"Adam learning rate of {baseline} (default: %(default)s)",
    )
    group.add_argument("--batch-size", type=int, default=32, help=f"{item} per batch (default: %(default)s)")
    group.add_argument("--epochs", type=int, default=10, help="most epochs (default: %(default)s)")
    group.add_argument(
        "--patience",
        type=int,
        default=3,
        help=f"stop after this many epochs without a better validation {metric} (default: %(default)s)",
    )
    group.add_argument(
        "--max-train-batches",
        type=int,
        metavar="N",
        help=f"train on at most N batches per epoch (default: all; --quick sets {quick_batches}); validation and "
        "test use all",
    )
    group.add_argument("--seed", type=int, default=2021, help="seed of every random generator (default: %(default)s)")
    group.add_argument(
        "--device",
        choices=DEVICES,
        default="auto",
        help="auto: CUDA when torch sees it, else CPU (default: %(default)s)",
    )
    group.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch CPU threads (default: torch's choice, one per core); on a small or busy machine 1 is often "
        "several times faster for small models",
    )


def train_settings(args: argparse.Namespace, **extra: Any) -> TrainSettings:
    """The training options of ``args`` (Titans' --lr) as ``TrainSettings``, with ``extra`` fields."""
    shared = ("lr", "batch_size", "epochs", "patience", "max_train_batches", "device", "threads")
    return TrainSettings(**{name: getattr(args, name) for name in shared}, **extra)


def add_switch(group: argparse._ArgumentGroup, flag: str, default: bool, text: str) -> None:
    """Register ``flag`` and its ``--no-`` form on ``group``; ``text`` is the help, to which the default is added."""
    group.add_argument(
        flag,
        action=argparse.BooleanOptionalAction,
        default=default,
        help=f"{text} (default: {'on' if default else 'off'})",
    )


def add_run_arguments(
    parser: argparse.ArgumentParser,
    quick: Mapping[str, Any],
    quick_help: str,
    runs_root: Path,
    resume_help: str,
    summary_help: str,
) -> None:
    """Register --config, --quick (the options ``quick``, described by ``quick_help``), --tracking-uri, --run-dir
    (under ``runs_root``), --resume and --summary-json (``summary_help``)."""
    run = parser.add_argument_group("run, tracking and output")
    run.add_argument(
        "--config",
        metavar="PATH",
        help="a YAML or TOML file of options (keys as the long options: d_model or d-model); flags override it",
    )
    add_switch(
        run, "--quick", False, f"a small configuration that finishes in about 2 minutes on 2 CPU cores: {quick_help}"
    )
    run.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in this folder)",
    )
    run.add_argument(
        "--run-dir",
        metavar="DIR",
        help=f"checkpoint folder of this run (default: {runs_root}/<dataset>-<model>-<date>-<time>)",
    )
    add_switch(
        run,
        "--resume",
        False,
        f"continue the run in --run-dir (by default the newest one of this dataset and model): {resume_help}",
    )
    run.add_argument("--summary-json", metavar="PATH", help=summary_help)
    parser.set_defaults(presets=functools.partial(presets, parser, dict(quick)))


def presets(parser: argparse.ArgumentParser, quick: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """Option tokens of --quick (the options ``quick``) and --config, in that order (the command-line flags are
    parsed after them)."""
    try:
        options = read_config(args.config) if args.config else {}
        tokens = config_tokens(parser, quick, "--quick") if options.get("quick", args.quick) else []
        return tokens + config_tokens(parser, options, args.config or "", refused=("config",))
    except ValueError as err:
        parser.error(str(err))  # exits with status 2
        return []


def run_directory(args: argparse.Namespace, runs_root: Path, dataset: str) -> Path:
    """--run-dir, else a new dated folder (or, with --resume, the newest one) under ``runs_root``; ValueError for a
    missing folder to resume or a used one to start in."""
    if args.run_dir:
        directory = Path(args.run_dir)
        if args.resume and not directory.is_dir():
            raise ValueError(f"--resume: run directory {directory} not found")
    elif args.resume:
        found = sorted(runs_root.glob(f"{dataset}-{args.model}-*"))
        if not found:
            raise ValueError(f"--resume: no run of {dataset} with model {args.model} under {runs_root}; pass --run-dir")
        directory = found[-1]
    else:
        directory = runs_root / f"{dataset}-{args.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not args.resume and directory.is_dir() and any(directory.iterdir()):
        raise ValueError(f"run directory {directory} is not empty; pass --resume to continue it, or another --run-dir")
    return directory


def plan_or_report(
    prog: str, plan: Callable[[argparse.Namespace, dict[str, Any]], Plan], args: argparse.Namespace
) -> Plan | None:
    """``plan(args, options)`` with the options of the command line; None, after printing the one-line error
    ``<prog>: error: <message>`` to stderr, when ``plan`` raises DataError or ValueError for bad input."""
    options = {key: value for key, value in vars(args).items() if key not in ("func", "presets", "command")}
    try:
        return plan(args, options)
    except (DataError, ValueError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return None
