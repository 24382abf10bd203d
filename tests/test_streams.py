"""Online-aware training (titans_ts.forecasting.streams): streams of blocks, the memory carried with exact gradients
and truncated backprop that stops exactly at segment borders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from titans_ts import TitansConfig
from titans_ts.errors import DataError
from titans_ts.forecasting.data import prepare_forecast
from titans_ts.forecasting.model import ForecasterConfig, TitansForecastNet
from titans_ts.forecasting.online import compare_online
from titans_ts.forecasting.streams import StreamDataset, stream_loss
from titans_ts.forecasting.synthetic import level_shift_series
from titans_ts.forecasting.task import fit_forecaster
from titans_ts.training.settings import TrainSettings

LOOKBACK, HORIZON = 16, 4


def model_for(variant: str = "lmm", **backbone: object) -> TitansForecastNet:
    torch.manual_seed(0)
    tiny = {"d_model": 8, "n_layers": 2, "n_heads": 2, "chunk_size": 7, "segment_size": 8, "window": 8, **backbone}
    config = ForecasterConfig(
        lookback=LOOKBACK, horizon=HORIZON, n_inputs=2, patch_len=4, stride=2,
        backbone=TitansConfig(variant=variant, **tiny),
    )
    return TitansForecastNet(config)


def test_stream_steps_continue_parallel_streams_of_consecutive_blocks() -> None:
    rows = np.arange(400, dtype=np.float32).reshape(200, 2)
    streams = StreamDataset(rows, LOOKBACK, HORIZON, blocks=5, tbptt=2, streams=3, out_index=[1])
    assert streams.steps == 3 and len(streams) % 3 == 0
    torch.manual_seed(0)
    batches = [[streams[(step * 3) + b] for b in range(3)] for step in range(2 * streams.steps)]
    for round_batches in (batches[:3], batches[3:]):
        for b in range(3):
            x = torch.cat([round_batches[step][b][0] for step in range(3)])  # 6 blocks, read 2 per step
            y = torch.cat([round_batches[step][b][1] for step in range(3)])
            first = int(x[0, 0, 0]) // 2
            for j in range(6):
                start = first + j * LOOKBACK
                assert torch.equal(x[j], torch.from_numpy(rows[start : start + LOOKBACK]))
                assert torch.equal(y[j, :, 0], torch.from_numpy(rows[start + LOOKBACK : start + LOOKBACK + HORIZON, 1]))
            assert [bool(round_batches[step][b][2]) for step in range(3)] == [True, False, False]
    assert not torch.equal(batches[0][0][0], batches[3][0][0]) or not torch.equal(batches[0][1][0], batches[3][1][0])
    with pytest.raises(DataError, match="toy: a training stream of 16 blocks"):
        StreamDataset(rows, LOOKBACK, HORIZON, blocks=13, tbptt=4, streams=2, name="toy")


def test_carried_training_equals_backprop_through_the_concatenation() -> None:
    """LMM without convolution or persistent tokens, chunks aligned with the blocks: the stream loss over two blocks
    and its gradients equal, in float64, those of one backbone call on the two blocks' tokens laid end to end."""
    model = model_for(conv_size=1, n_persistent=0).double()
    x = torch.randn(3, 2, LOOKBACK, 2, dtype=torch.float64)
    y = torch.randn(3, 2, HORIZON, 2, dtype=torch.float64)
    loss, _ = stream_loss(model, x, y, F.mse_loss)
    grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)

    tokens, stats = [], []
    for j in range(2):
        normalized, block_stats = model.revin.normalize(x[:, j])
        tokens.append(model.embed(model._patches(normalized.transpose(1, 2).reshape(6, LOOKBACK))))
        stats.append(block_stats)
    features, _ = model.backbone(torch.cat(tokens, dim=1))
    n = model.config.n_patches
    losses = []
    for j in range(2):
        head = model.head(features[:, j * n : (j + 1) * n]).view(3, 2, HORIZON).transpose(1, 2)
        losses.append(F.mse_loss(model.revin.denormalize(head, stats[j]), y[:, j]))
    expected = torch.stack(losses).mean()
    torch.testing.assert_close(loss, expected)
    for got, want in zip(grads, torch.autograd.grad(expected, list(model.parameters()), allow_unused=True)):
        if want is None:
            assert got is None or got.abs().max() == 0
        else:
            torch.testing.assert_close(got, want)


@pytest.mark.parametrize("variant", ["mag", "mac"])
def test_detach_stops_gradients_exactly_at_step_borders(variant: str) -> None:
    """Two steps of two blocks: with the state detached between them, the second step's loss sends nothing back to
    the first step's blocks; attached, it does; and the second step reads what the first step's memories learned."""
    model = model_for(variant).double()
    x = torch.randn(2, 4, LOOKBACK, 2, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 4, HORIZON, 2, dtype=torch.float64)
    _, state = stream_loss(model, x[:, :2], y[:, :2], F.mse_loss)
    second, _ = stream_loss(model, x[:, 2:], y[:, 2:], F.mse_loss, state.detach())
    (cut,) = torch.autograd.grad(second, x)
    assert cut[:, :2].abs().max() == 0 and cut[:, 2:].abs().sum() > 0
    attached, _ = stream_loss(model, x[:, 2:], y[:, 2:], F.mse_loss, state)
    (through,) = torch.autograd.grad(attached, x)
    assert through[:, :2].abs().sum() > 0
    torch.testing.assert_close(attached, second)
    fresh, _ = stream_loss(model, x[:, 2:], y[:, 2:], F.mse_loss)
    assert not torch.allclose(fresh, second)



def test_level_shift_series_shifts_its_level_halfway_through_the_test_split() -> None:
    table = level_shift_series(seed=1, rows=2000, regime=100, phi=0.5, noise=0.01, spread=3.0)
    values = table.values[:, 0]
    assert values.shape == (2000,) and np.isfinite(values).all()
    halves = values[1610:1800], values[1810:2000]  # the test split is rows 1600-1999, its level shifts at 1800
    assert abs(halves[0].mean() - halves[1].mean()) > 0.1 and max(halves[0].std(), halves[1].std()) < 0.1
    assert np.array_equal(values, level_shift_series(seed=1, rows=2000, regime=100, phi=0.5, noise=0.01,
                                                     spread=3.0).values[:, 0])  # fmt: skip
    with pytest.raises(ValueError, match="phi"):
        level_shift_series(seed=0, phi=1.0)

def test_online_trained_memory_beats_its_frozen_self_after_a_level_shift(tmp_path: Path) -> None:
    """A mean-reverting series whose level shifts halfway through the test split, forecast 16 rows ahead from 16:
    the lookback tells the level badly, the stream tells it well. Trained online, the memory that reads the test
    split must beat the same model frozen (each window from M_0) clearly (measured: MSE 0.74 against 0.92)."""
    data = prepare_forecast(level_shift_series(seed=0), 16, 16, kind="custom")
    torch.manual_seed(0)
    backbone = TitansConfig(variant="lmm", memory_depth=1, d_model=16, n_layers=1, n_heads=2, chunk_size=4,
                            alpha_max=0.1)  # fmt: skip
    model = TitansForecastNet(ForecasterConfig(16, 16, 1, patch_len=4, stride=4, revin=False, backbone=backbone))
    settings = TrainSettings(lr=3e-3, epochs=12, patience=12, train_online=32, threads=1)
    fit_forecaster(model, data, settings, tmp_path)
    scores = compare_online(model, data, "test").metrics()
    assert scores["online_mse"] < 0.9 * scores["frozen_mse"]
