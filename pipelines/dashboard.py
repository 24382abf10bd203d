"""Start the dashboard (``dashboards/app.py``, a Streamlit app) on the runs of an MLflow tracking store: run comparison
against the paper's tables, forecast explorer, the memory's surprise and gates, genomics confusion matrices.

It serves http://127.0.0.1:<port> (this machine only) until Ctrl-C or SIGTERM, which stop the Streamlit server too (as
does the end of this process by any signal, on Linux); open that address in a browser.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

from pipelines.stopping import die_with_parent

APP = Path(importlib.util.find_spec("dashboards").origin).resolve().parent / "app.py"  # launched, never imported


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register every option of ``titans-ts dashboard`` on ``parser``."""
    parser.epilog = (
        "examples:\n"
        "  titans-ts dashboard                                     # runs in ./mlflow.db, http://127.0.0.1:8501\n"
        "  titans-ts dashboard --port 8600 --tracking-uri http://localhost:5000"
    )
    parser.add_argument("--port", type=int, default=8501, help="port to serve on (default: %(default)s)")
    parser.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to bind; 0.0.0.0 serves other machines too, e.g. inside a container (default: %(default)s)",
    )
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow store to read (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in this folder)",
    )
    parser.set_defaults(func=run_dashboard)


def command(args: argparse.Namespace) -> list[str]:
    """The ``streamlit run`` command line of ``args``."""
    from titans_ts.training.tracking import tracking_uri

    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", args.address, "--server.port", str(args.port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
        "--", "--tracking-uri", tracking_uri(args.tracking_uri),
    ]  # fmt: skip


def run_dashboard(args: argparse.Namespace) -> int:
    """The ``dashboard`` subcommand: serve until interrupted; the exit status of Streamlit."""
    if not 0 < args.port < 65536:
        print(f"titans-ts dashboard: error: --port must be in 1..65535, got {args.port}", file=sys.stderr)
        return 2
    print(f"titans-ts dashboard: http://{args.address}:{args.port} (Ctrl-C stops it)", flush=True)
    return subprocess.call(command(args), preexec_fn=die_with_parent)  # a signal here stops Streamlit too
