"""Command-line options shared by the pipelines: the Titans backbone and training options, generated from the fields
of ``TitansConfig`` and ``TrainSettings`` (type, default, choices, and help from the class docstring), the run
options, the --quick and --config presets, and the run folder they resolve to."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import inspect
import os
import re
import sys
import time
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pipelines.config_file import config_tokens, read_config
from titans_ts.config import TitansConfig
from titans_ts.errors import DataError
from titans_ts.training.settings import TrainSettings

Plan = TypeVar("Plan")

# Options that say where a run is stored, not what it computes: logged as parameters, left out of config.yaml.
RUN_ONLY = ("config", "run_dir", "resume", "summary_json", "tracking_uri")
# The options a run folder keeps (every option but these) and --resume restores; the others may change on resume.
NOT_STORED = ("config", "run_dir", "resume", "summary_json")
# What argparse's namespace holds besides the options.
NOT_OPTIONS = ("func", "presets", "command")
RUN_OPTIONS = "options.yaml"
# Options named otherwise than their field: the backbone variant has always been --model (and "model" in config
# files, search spaces and logged parameters).
OPTION_NAMES = {"variant": "model"}
# TrainSettings fields that only the forecasting pipeline trains with.
FORECAST_ONLY = ("loss", "train_online", "tbptt_blocks")
_DOC_ENTRY = re.compile(r"(\w+):\s+(\S.*)")


def option_name(field_name: str) -> str:
    """The option (dest) of a config field: the field's name unless ``OPTION_NAMES`` says otherwise."""
    return OPTION_NAMES.get(field_name, field_name)


def field_help(cls: type) -> dict[str, str]:
    """Each described field of the dataclass ``cls``: the text of its ``name: text`` line in the class docstring
    (continued on the more indented lines below it), without double backquotes and the closing full stop."""
    names = {spec.name for spec in dataclasses.fields(cls)}
    texts: dict[str, list[str]] = {}
    current = None
    for line in (inspect.getdoc(cls) or "").splitlines():
        entry = _DOC_ENTRY.fullmatch(line)
        if entry and entry[1] in names:
            current = entry[1]
            texts[current] = [entry[2]]
        elif current is not None and line.startswith(" ") and line.strip():
            texts[current].append(line.strip())
        else:
            current = None
    return {name: " ".join(parts).replace("``", "").removesuffix(".") for name, parts in texts.items()}


def _option_type(hint: Any, spec: dataclasses.Field) -> tuple[type, tuple[Any, ...] | None]:
    """The argparse type and choices of a field: its annotation, a Literal's values, or ``choices`` in its metadata;
    ``X | None`` is X."""
    choices = spec.metadata.get("choices")
    if typing.get_origin(hint) is typing.Literal:
        choices = typing.get_args(hint)
        hint = type(choices[0])
    elif typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if hint not in (bool, int, float, str):
        raise TypeError(f"{spec.name}: no command-line option for a field of type {hint!r}")
    return hint, None if choices is None else tuple(choices)


def add_field_arguments(
    group: argparse._ArgumentGroup, cls: type, defaults: Mapping[str, Any] = {}, skip: Iterable[str] = ()
) -> None:
    """Register one option per field of the dataclass ``cls`` (but those in ``skip``) on ``group``: ``--field-name``
    (or its ``OPTION_NAMES`` name), typed as the field, with its choices (a Literal, or ``choices`` in its metadata), a
    ``--x/--no-x`` switch for a bool, described by the class docstring (``field_help``). ``defaults``, by option name,
    replace the field's own default (a pipeline's choice; --help shows the one in effect)."""
    hints = typing.get_type_hints(cls)
    described = field_help(cls)
    for spec in dataclasses.fields(cls):
        if spec.name in skip:
            continue
        if spec.name not in described:
            raise TypeError(f"{cls.__name__}.{spec.name} has no 'name: text' line in the class docstring")
        dest = option_name(spec.name)
        flag = "--" + dest.replace("_", "-")
        default = defaults.get(dest, spec.default)
        text = described[spec.name].replace("%", "%%")
        kind, choices = _option_type(hints[spec.name], spec)
        if kind is bool:
            add_switch(group, flag, default, text)
            continue
        group.add_argument(
            flag,
            type=kind,
            choices=choices,
            default=default,
            metavar="N" if default is None and kind is int else None,
            help=text if default is None else f"{text} (default: %(default)s)",
        )


def add_backbone_arguments(group: argparse._ArgumentGroup, defaults: Mapping[str, Any] = {}) -> None:
    """Register an option per ``TitansConfig`` field on ``group`` (the variant as --model); ``defaults`` (by option
    name) replace the library's."""
    add_field_arguments(group, TitansConfig, defaults)


def backbone_config(args: argparse.Namespace) -> TitansConfig:
    """The ``TitansConfig`` of the backbone options in ``args``; ValueError for inconsistent values."""
    names = [spec.name for spec in dataclasses.fields(TitansConfig)]
    return TitansConfig(**{name: getattr(args, option_name(name)) for name in names})


def add_training_arguments(
    group: argparse._ArgumentGroup,
    baseline: str,
    baseline_lr: float,
    defaults: Mapping[str, Any] = {},
    skip: Iterable[str] = (),
) -> None:
    """Register an option per ``TrainSettings`` field (but those in ``skip``) on ``group``, with ``defaults`` (by
    option name) in place of the library's, then --baseline-lr (the ``baseline`` model's) and --seed."""
    add_field_arguments(group, TrainSettings, defaults, skip)
    group.add_argument(
        "--baseline-lr",
        type=float,
        default=baseline_lr,
        help=f"Adam learning rate of {baseline} (default: %(default)s)",
    )
    group.add_argument(
        "--seed",
        type=int,
        default=defaults.get("seed", 2021),
        help="seed of every random generator (default: %(default)s)",
    )


def train_settings(args: argparse.Namespace) -> TrainSettings:
    """The ``TrainSettings`` of the training options in ``args`` (Titans' --lr); a field without an option (as the
    forecasting-only ones in ``titans-ts classify``) keeps its default."""
    names = [spec.name for spec in dataclasses.fields(TrainSettings) if hasattr(args, spec.name)]
    return TrainSettings(**{name: getattr(args, name) for name in names})


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
    find_run: Callable[[argparse.Namespace], Path],
    resume_help: str,
    summary_help: str,
) -> None:
    """Register --config, --quick (the options ``quick``, described by ``quick_help``), --tracking-uri, --run-dir,
    --resume and --summary-json (``summary_help``); ``find_run(args)`` is the folder --resume continues
    (``run_directory``)."""
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
        help="checkpoint folder of this run (default: runs/<pipeline>/<dataset>-<model>-<date>-<time>)",
    )
    add_switch(
        run,
        "--resume",
        False,
        "continue the run in --run-dir (by default the newest one of this dataset and model) with the options it "
        f"was started with (flags given with --resume must equal them): {resume_help}",
    )
    run.add_argument("--summary-json", metavar="PATH", help=summary_help)
    parser.set_defaults(presets=functools.partial(presets, parser, dict(quick), find_run))


def presets(
    parser: argparse.ArgumentParser,
    quick: dict[str, Any],
    find_run: Callable[[argparse.Namespace], Path],
    args: argparse.Namespace,
    flags: list[str],
) -> list[str]:
    """Option tokens parsed before the command-line ``flags`` (the user's, already parsed into ``args``): with
    --resume, the options stored in the run folder (``resumed_options``); otherwise those of --quick (the options
    ``quick``) and --config, in that order."""
    try:
        if args.resume:
            return config_tokens(parser, resumed_options(parser, find_run(args), args, flags), RUN_OPTIONS)
        options = read_config(args.config) if args.config else {}
        tokens = config_tokens(parser, quick, "--quick") if options.get("quick", args.quick) else []
        return tokens + config_tokens(parser, options, args.config or "", refused=("config",))
    except ValueError as err:
        parser.error(str(err))  # exits with status 2
        return []


def given_options(parser: argparse.ArgumentParser, flags: list[str]) -> set[str]:
    """The dests of the options that ``flags`` set (not those left at their defaults)."""
    actions = [action for action in parser._actions if action.option_strings]
    defaults = [action.default for action in actions]
    try:
        for action in actions:
            action.default = argparse.SUPPRESS
        given = vars(parser.parse_args(flags, argparse.Namespace()))
    finally:
        for action, default in zip(actions, defaults):
            action.default = default
    return {action.dest for action in actions if action.dest in given}


def store_run_options(directory: Path, options: Mapping[str, Any]) -> None:
    """Write ``options`` (but the ``NOT_STORED`` ones) to ``directory/options.yaml``, the options --resume restores."""
    directory.mkdir(parents=True, exist_ok=True)
    kept = {key: value for key, value in options.items() if key not in (*NOT_STORED, *NOT_OPTIONS)}
    (directory / RUN_OPTIONS).write_text(yaml.safe_dump(kept, sort_keys=False))


def resumed_options(
    parser: argparse.ArgumentParser, directory: Path, args: argparse.Namespace, flags: list[str]
) -> dict[str, Any]:
    """The options stored in ``directory/options.yaml``; ValueError when it is missing, or when one of the
    command-line ``flags`` (parsed into ``args``) sets a stored option to another value."""
    path = directory / RUN_OPTIONS
    if not path.is_file():
        raise ValueError(
            f"--resume: {path} not found (the options a run was started with; {directory} is not a titans-ts run or "
            "predates them): start a new run"
        )
    stored = read_config(path)
    values = vars(parser.parse_args(config_tokens(parser, stored, str(path)), argparse.Namespace()))
    for dest in sorted(given_options(parser, flags) - set(NOT_STORED)):
        if _flat(getattr(args, dest)) != _flat(values.get(dest)):
            flag = "--" + dest.replace("_", "-")
            raise ValueError(
                f"--resume: {flag} {_shown(getattr(args, dest))} differs from the run's {_shown(values.get(dest))} "
                f"({path}); drop the flag to continue the run as it was started, or start a new run"
            )
    if args.config:
        raise ValueError(f"--resume restores the run's options from {path}; --config cannot change them")
    return stored


def _flat(value: Any) -> Any:
    """A list option's values as one list (``--horizon 96 all`` parses to [[96], [96, 192, 336, 720]])."""
    if isinstance(value, list):
        return [item for part in value for item in (_flat(part) if isinstance(part, list) else [part])]
    return value


def _shown(value: Any) -> str:
    """An option value as typed on a command line."""
    if isinstance(value, list):
        return " ".join(_shown(item) for item in _flat(value))
    if value is None:
        return "(not given)"
    return "off" if value is False else "on" if value is True else str(value)


def run_directory(args: argparse.Namespace, runs_root: Path, dataset: str) -> Path:
    """--run-dir, else a new dated folder (or, with --resume, the newest one) under ``runs_root``; ValueError for a
    missing folder to resume, a used one to start in, or one that cannot be made (checked, not made: planning writes
    nothing)."""
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
    existing = next(folder for folder in (directory, *directory.parents) if folder.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        why = "is a file" if not existing.is_dir() else "is not writable"
        raise ValueError(f"run directory {directory} cannot be made: {existing} {why}; pass another --run-dir")
    return directory


def plan_or_report(
    prog: str, plan: Callable[[argparse.Namespace, dict[str, Any]], Plan], args: argparse.Namespace
) -> Plan | None:
    """``plan(args, options)`` with the options of the command line; None, after printing the one-line error
    ``<prog>: error: <message>`` to stderr, when ``plan`` raises DataError or ValueError for bad input."""
    options = {key: value for key, value in vars(args).items() if key not in NOT_OPTIONS}
    try:
        return plan(args, options)
    except (DataError, ValueError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return None
