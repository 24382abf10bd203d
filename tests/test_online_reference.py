"""Online forecasting and memory traces through the model's state interface equal what the earlier implementation
(commit e7808f5, which carried memories by patching ``NeuralMemory.initial_state`` and traced through hooks) computed
on four saved forecasters: ``tests/data/online_reference.pt`` holds each variant's configuration, weights, the stride-1
online and frozen forecasts of a 70-row random-walk series, and its memory trace."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from titans_ts import TitansConfig
from titans_ts.config import VARIANTS
from titans_ts.forecasting.model import ForecasterConfig, TitansForecastNet
from titans_ts.forecasting.online import window_forecasts
from titans_ts.forecasting.trace import memory_trace

REFERENCE = torch.load(Path(__file__).parent / "data" / "online_reference.pt", weights_only=True)
TRACE_COLUMNS = ["layer", "row", "surprise", "grad_norm", "step_scale", "theta", "eta", "alpha"]


def saved_model(variant: str) -> TitansForecastNet:
    saved = REFERENCE["models"][variant]
    model = TitansForecastNet(ForecasterConfig(**saved["config"], backbone=TitansConfig(**saved["backbone"])))
    model.load_state_dict(saved["state_dict"])
    return model


@pytest.mark.parametrize("variant", VARIANTS)
def test_online_forecasts_equal_the_saved_ones(variant: str) -> None:
    model, saved = saved_model(variant), REFERENCE["models"][variant]
    online = window_forecasts(model, REFERENCE["rows"], online=True, batch_size=7)
    torch.testing.assert_close(online, saved["online"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(window_forecasts(model, REFERENCE["rows"], online=False), saved["frozen"])
    assert (saved["online"] - saved["frozen"]).abs().max() > 1e-3  # the memories did learn something


@pytest.mark.parametrize("variant", VARIANTS)
def test_memory_trace_equals_the_saved_one(variant: str) -> None:
    trace = memory_trace(saved_model(variant), REFERENCE["rows"])
    expected = REFERENCE["models"][variant]["trace"]
    torch.testing.assert_close(torch.tensor(trace[TRACE_COLUMNS].to_numpy()), expected, rtol=1e-4, atol=1e-5)
