"""The ``titans-ts`` command line: one module per subcommand, each with ``add_arguments(parser)`` and ``run(args)``.

A subcommand that reads options from a file (``--config``, a resumed run's ``options.yaml``) or a preset (``--quick``)
sets a ``presets`` default: a function of the first parse and the subcommand's own flags returning option tokens,
which are parsed again *before* the user's own flags, so that argparse checks them and the flags on the command line
win.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from pipelines import classify, dashboard, forecast, info, serve, tune
from pipelines.info import package_version
from pipelines.stopping import Stopped, stop_on_signals
from titans_ts.errors import DataWarning

SUBCOMMANDS = {
    "info": (info, "show versions and whether CUDA and the Triton kernels are available"),
    "forecast": (forecast, "train and test a Titans forecaster and a DLinear baseline on a CSV, logged to MLflow"),
    "classify": (
        classify,
        "train and test a Titans DNA sequence classifier and the Genomic Benchmarks CNN, logged to MLflow",
    ),
    "tune": (tune, "tune a pipeline's hyperparameters with Optuna, every trial a nested MLflow run"),
    "dashboard": (dashboard, "browse runs, forecasts, the memory's surprise and confusion matrices in a browser"),
    "serve": (serve, "serve a forecaster over HTTP and MCP, its memory learning each series as observations arrive"),
}


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are the single line ``<prog>: error: <message>`` (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = OneLineErrorParser(
        prog="titans-ts",
        description="Titans neural long-term memory for time-series forecasting and genomics.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    for name, (module, summary) in SUBCOMMANDS.items():
        description = (module.__doc__ or summary).strip()
        command = sub.add_parser(
            name, help=summary, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        module.add_arguments(command)
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv``, then again with the subcommand's preset tokens inserted before the user's flags."""
    argv = list(argv)
    args = parser.parse_args(argv)
    presets = getattr(args, "presets", None)
    if presets is None:
        return args
    innermost = getattr(args, "subcommand", None) or args.command  # "tune forecast": after "forecast"
    at = argv.index(innermost, argv.index(args.command)) + 1
    tokens = presets(args, argv[at:])
    return parser.parse_args([*argv[:at], *tokens, *argv[at:]]) if tokens else args


DEFAULT_FORMAT = warnings.formatwarning


def one_line_data_warnings(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> str:
    """``warnings.formatwarning`` that shows a DataWarning as ``titans-ts: warning: <message>`` (it names its file and
    rows itself) and every other warning as Python does."""
    if issubclass(category, DataWarning):
        return f"titans-ts: warning: {message}\n"
    return DEFAULT_FORMAT(message, category, *args, **kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    warnings.formatwarning = one_line_data_warnings
    parser = build_parser()
    args = parse(parser, sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help()
        return 0
    with stop_on_signals():
        try:
            return int(args.func(args))
        except Stopped as stop:
            then = f"; {stop.resume}" if stop.resume else ""
            # On a line of its own: a progress bar may hold the current one.
            print(f"\ntitans-ts {args.command}: stopped by {stop}{then}", file=sys.stderr)
            return stop.exit_status
