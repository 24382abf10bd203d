"""What the pipelines leave in MLflow: the model (a torch.export program when the memory's unrolled chunks are few,
else the pickled module with its code: a long DNA model would take hours to export), artifacts beside a sqlite store,
and no usage telemetry by default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import mlflow.pytorch
import pytest
import torch

from genomics.model import TitansClassifierNet, TokenProbabilities
from pipelines.tracking import log_model
from titans_ts import TitansConfig
from titans_ts.training.tracking import EXPORT_MAX_STEPS, experiment_id, memory_steps

ROOT = Path(__file__).resolve().parents[1]


def test_memory_steps_count_chunks_of_every_layer() -> None:
    config = TitansConfig(variant="lmm", d_model=8, n_layers=2, n_heads=2, chunk_size=16)
    assert memory_steps(config, 5000) == 313 * 2 and memory_steps(config, 16) == 2 and memory_steps(config, 17) == 4


@pytest.mark.parametrize("steps", [4, EXPORT_MAX_STEPS + 1])
def test_a_long_model_is_logged_pickled_and_loads_with_the_same_outputs(
    workdir: Path, steps: int, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.manual_seed(0)
    config = TitansConfig(variant="lmm", d_model=8, n_layers=1, n_heads=2, chunk_size=4)
    model = TokenProbabilities(TitansClassifierNet(6, 2, config, "mean")).eval()
    tokens = torch.randint(1, 6, (3, 12))
    with mlflow.start_run() as run:
        log_model("titans-ts classify", model, tokens[:2].numpy(), steps)
    pickled = steps > EXPORT_MAX_STEPS
    assert mlflow.get_run(run.info.run_id).data.tags["model_format"] == ("pickle" if pickled else "pt2")
    warning = capsys.readouterr().err
    assert (f"titans-ts classify: warning: the model reads {steps} memory chunks an input" in warning) == pickled
    loaded = mlflow.pytorch.load_model(f"runs:/{run.info.run_id}/model")
    torch.testing.assert_close(loaded(tokens), model(tokens))


def test_a_sqlite_store_keeps_its_artifacts_beside_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    (tmp_path / "store").mkdir()
    try:
        with mlflow.start_run(experiment_id=experiment_id("forecast/demo")):
            mlflow.log_text("hello", "note.txt")
        assert len(list((tmp_path / "store" / "mlruns" / "forecast" / "demo").glob("*/artifacts/note.txt"))) == 1
        assert not (tmp_path / "work" / "mlruns").exists()
        assert experiment_id("forecast/demo") == mlflow.get_experiment_by_name("forecast/demo").experiment_id
    finally:
        mlflow.set_tracking_uri(None)


def test_mlflow_telemetry_is_off_unless_asked_for() -> None:
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_DISABLE_TELEMETRY"}
    script = "import os, titans_ts, mlflow; print(os.environ['MLFLOW_DISABLE_TELEMETRY'])"
    for given, expected in ((None, "true"), ("false", "false")):
        env.update({} if given is None else {"MLFLOW_DISABLE_TELEMETRY": given})
        shown = subprocess.run(
            [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, check=True
        )
        assert shown.stdout.strip() == expected
