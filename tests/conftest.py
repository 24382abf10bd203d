"""Shared fixtures: one torch thread, a working folder with its own MLflow store for pipeline runs, and real servers
for the tuning tests, started by the tests: a PostgreSQL cluster and an MLflow tracking server."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

if not torch.cuda.is_available():  # the Triton kernels' tests run them on the CPU through Triton's interpreter,
    os.environ.setdefault("TRITON_INTERPRET", "1")  # which must be chosen before any kernel is decorated


@pytest.fixture(autouse=True, scope="session")
def one_thread() -> None:
    """Tiny test models run fastest on one thread: on a 2-core machine two threads mostly wait for each other."""
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A folder for the pipeline runs of one test module, made the working directory (MLflow's artifacts land in
    ./mlruns), with its own sqlite tracking store."""
    path = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(path)
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{path}/mlflow.db")
        yield path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(command: list[str], url: str, health: str, log: Path, timeout: float = 120) -> Iterator[str]:
    """Run the server ``command`` (output to ``log``) for the ``with`` block; yields ``url`` once ``url + health``
    answers 200. RuntimeError with the log's tail if the server exits or does not answer within ``timeout`` s."""
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + health, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[:4]} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def postgres_binary(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, else in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL cluster (initdb + pg_ctl) on 127.0.0.1 and a free port, with an empty database "optuna".

    PostgreSQL refuses to run as root, so under root the cluster belongs to the "postgres" user of the Debian package.
    """
    initdb, pg_ctl, createdb = (postgres_binary(n) for n in ("initdb", "pg_ctl", "createdb"))
    if not (initdb and pg_ctl and createdb):
        pytest.skip("PostgreSQL server programs not installed (Debian: apt-get install postgresql)")
    as_user: list[str] = []
    data = Path(tempfile.mkdtemp(prefix="titans-ts-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no 'postgres' user to own the test cluster")
        os.chown(data, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    cluster = data / "cluster"
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run([*as_user, initdb, "-D", str(cluster), "-U", "titans", "--auth=trust"], **run)
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    subprocess.run([*as_user, pg_ctl, "-D", str(cluster), "-o", options, "-l", str(data / "log"), "-w", "start"], **run)
    try:
        subprocess.run([*as_user, createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "titans", "optuna"], **run)
        yield f"postgresql://titans@127.0.0.1:{port}/optuna"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(cluster), "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An ``mlflow server`` process on 127.0.0.1 (sqlite backend, served artifacts); yields its URL."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"), "--serve-artifacts",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]
    with served(command, f"http://127.0.0.1:{port}", "/health", root / "server.log") as url:
        yield url
