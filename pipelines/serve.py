"""Serve a trained forecaster over HTTP: post what each series observed, get its next forecast from a memory that has
read everything posted so far (the outer weights stay as trained). The same calls are MCP tools at /mcp.

The model: a forecast run's logged model (runs:/<run id>/model, models:/<name>/<version>; it carries the live model
file, live_model.pt, beside the exported program), or a file: the live_model.pt of a run folder
(runs/forecast/<run>/H<h>/), or a Forecaster.save file. Every series' stream and memory is kept in --state-db and
committed before an observation is acknowledged: kill the server at any moment, start it again with the same
--state-db, and every series forecasts as before. API and examples: http://127.0.0.1:8000/docs once it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from titans_ts.errors import DataError

if TYPE_CHECKING:
    from titans_ts.forecasting.live import LiveModel

PROG = "titans-ts serve"
TOKEN_ENV = "TITANS_TS_SERVE_TOKEN"
DB_ENV = "TITANS_TS_SERVE_DB"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register every option of ``titans-ts serve`` on ``parser``."""
    parser.epilog = (
        "examples:\n"
        "  titans-ts serve --model-uri runs:/<run id>/model\n"
        "  titans-ts serve --model-uri runs/forecast/ETTh1-mag-20260101-120000/H96/live_model.pt --port 8100\n"
        "  curl -X POST -H 'Content-Type: text/csv' --data-binary @rows.csv "
        "http://127.0.0.1:8000/v1/series/meter-1/observations\n"
        "  curl 'http://127.0.0.1:8000/v1/series/meter-1/forecast?compare=frozen'"
    )
    parser.add_argument(
        "--model-uri",
        required=True,
        metavar="URI",
        help="the model: runs:/<id>/model or models:/<name>/<version> (MLflow, from --tracking-uri), or a path to a "
        "live_model.pt or Forecaster.save file",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind; 0.0.0.0 serves other machines (set --token then) (default: %(default)s)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port to serve on (default: %(default)s)")
    parser.add_argument(
        "--state-db",
        default=os.environ.get(DB_ENV, "serve.db"),
        metavar="PATH|URL",
        help="where every series' stream and memory is kept: an SQLite file, or a postgresql+psycopg:// URL that "
        f"several replicas share (default: ${DB_ENV}, else serve.db here)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"bearer token required on every write (Authorization: Bearer <token>) (default: ${TOKEN_ENV}, else none)",
    )
    parser.add_argument(
        "--max-body",
        type=int,
        default=4 << 20,
        metavar="BYTES",
        help="largest request body taken, in bytes (default: %(default)s)",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=10_000,
        metavar="N",
        help="most rows one observation may hold (default: %(default)s)",
    )
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow store of runs:/ and models:/ URIs (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.set_defaults(func=run_serve)


def load_live_model(uri: str, tracking: str | None = None) -> LiveModel:
    """The ``LiveModel`` at ``uri``: a file (live model or forecaster), a folder holding a logged model (its
    ``extra_files/live_model.pt``) or a run folder (``live_model.pt``), or an MLflow URI downloaded to such a folder."""
    from pipelines.artifacts import LIVE_MODEL
    from titans_ts.forecasting.live import LiveModel

    path = Path(uri).expanduser()
    if not path.exists():
        if ":/" not in uri:
            raise DataError(f"{uri}: no such file, and not an MLflow URI (runs:/<id>/model, models:/<name>/<version>)")
        import mlflow

        from titans_ts.training.tracking import tracking_uri

        mlflow.set_tracking_uri(tracking_uri(tracking))
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one line of output per event
        try:
            path = Path(mlflow.artifacts.download_artifacts(uri, dst_path=tempfile.mkdtemp(prefix="titans-serve-")))
        except Exception as err:  # MLflow raises several kinds for a URI it cannot resolve
            reason = next(iter(str(err).splitlines()), type(err).__name__)
            raise DataError(f"{uri}: cannot be downloaded from {tracking_uri(tracking)}: {reason}") from err
    if path.is_dir():
        found = [p for p in (path / "extra_files" / LIVE_MODEL, path / LIVE_MODEL) if p.is_file()]
        if not found:
            raise DataError(
                f"{uri}: holds no {LIVE_MODEL} (models logged by titans-ts forecast carry one in extra_files/; "
                f"a run's earlier than serve's first release do not: train again)"
            )
        path = found[0]
    return LiveModel.load(path)


def run_serve(args: argparse.Namespace) -> int:
    """The ``serve`` subcommand: serve until SIGINT or SIGTERM; exit status 0, or 1 with a one-line error."""
    import torch
    import uvicorn

    from pipelines.series_store import SeriesStore, database_url
    from pipelines.serve_api import create_app

    for name in ("port", "max_body", "max_rows"):
        if getattr(args, name) < 1 or (name == "port" and args.port > 65535):
            print(f"{PROG}: error: --{name.replace('_', '-')} out of range: {getattr(args, name)}", file=sys.stderr)
            return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        live = load_live_model(args.model_uri, args.tracking_uri)
        store = SeriesStore(live, database_url(args.state_db), max_rows=args.max_rows)
    except (DataError, OSError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    config = live.model.config
    print(
        f"{PROG}: {args.model_uri}: lookback {config.lookback}, horizon {config.horizon}, columns {live.columns}, "
        f"forecasts {live.outputs} every {live.freq!r}; series state in {store.location}",
        flush=True,
    )
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.token:
        print(f"{PROG}: warning: serving {args.host} without --token: anyone who reaches it can write", file=sys.stderr)
    print(f"{PROG}: http://{args.host}:{args.port}/docs (Ctrl-C stops it)", flush=True)
    app = create_app(store, args.token, args.max_body)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        store.close()
    return 0
