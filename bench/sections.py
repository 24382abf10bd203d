"""Helpers of the table benchmarks: their shared options, the machine line, and their own marked section of a markdown
file."""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def table_parser(
    doc: str, pipeline: str, example: str, datasets_help: str, data_dir: Path, run_root: str, model: str
) -> argparse.ArgumentParser:
    """The options every table takes: --datasets (``datasets_help``), --data-dir (default ``data_dir``), --models
    (default ``model``), --run-root, --resume, --tracking-uri and --markdown; ``doc`` is the table's docstring, and
    ``example`` shows options to pass on to every ``titans-ts <pipeline>`` call."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        epilog=f"Everything after -- goes to every `titans-ts {pipeline}` call (e.g. -- {example}).",
    )
    parser.add_argument("--datasets", nargs="+", metavar="NAME", help=f"data sets to run (default: {datasets_help})")
    parser.add_argument("--data-dir", default=str(data_dir), metavar="DIR", help="data folder (default: %(default)s)")
    parser.add_argument("--models", nargs="+", default=[model], help="Titans variants (default: %(default)s)")
    parser.add_argument("--run-root", default=run_root, help="checkpoint folders (default: %(default)s)")
    parser.add_argument("--resume", action="store_true", help="continue the runs under --run-root")
    parser.add_argument("--tracking-uri", help=f"MLflow store (default: as titans-ts {pipeline})")
    parser.add_argument("--markdown", metavar="PATH", help="write the section into this file (e.g. BENCHMARKS.md)")
    return parser


def parse_table_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``argv`` (default: the command line) parsed up to "--"; ``argv`` holds all of it (for the command shown in the
    section) and ``extra`` what follows "--" (options for every pipeline call)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    at = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:at])
    args.argv, args.extra = argv, argv[at + 1 :]
    return args


def machine() -> str:
    """CPU model, logical CPUs, torch threads, and the GPU when torch sees one."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), flags=re.M)
        cpu = names[0] if names else cpu
    gpu = f", GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu}, {os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}{gpu}"


def write_section(path: Path, text: str, begin: str, end: str) -> None:
    """Replace the section of ``path`` between the markers ``begin`` and ``end`` with ``text`` (which holds both
    markers), or append ``text``; the rest of the file is left as it is."""
    old = path.read_text() if path.is_file() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + text + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + text + "\n"
    path.write_text(new)


def run_table(
    args: argparse.Namespace,
    datasets: list[str],
    run_one: Callable[[argparse.Namespace, str, str], Any],
    section: Callable[[argparse.Namespace, dict[tuple[str, str], Any], float], str],
    markers: tuple[str, str],
) -> int:
    """``run_one(args, dataset, model)`` for every data set and --models, then the ``section`` of their results and
    the wall-clock printed and, with --markdown, written into that file between the ``markers``."""
    start = time.perf_counter()
    results = {(dataset, model): run_one(args, dataset, model) for dataset in datasets for model in args.models}
    text = section(args, results, time.perf_counter() - start)
    print(text)
    if args.markdown:
        write_section(Path(args.markdown), text, *markers)
    return 0
