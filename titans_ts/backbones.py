"""The Titans backbones (§4): MAC, MAG, MAL and the memory-only LMM, built from one ``TitansConfig``.

Every block is pre-norm residual: x ← x + Mixer(RMSNorm(x)), x ← x + SwiGLU(RMSNorm(x)); the mixer is
the variant's own combination of the neural memory, attention and persistent memory (``mixers``). Inputs are
embeddings (B, T, d_model); the backbone knows nothing of time series or DNA.

State flows through the stack: ``y, state = titans(x, state)``, where ``TitansState`` holds one ``MixerState`` per
block. Fed a sequence in pieces, passing the state along, the backbone gives what it gives on the whole sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from .config import TitansConfig
from .memory import MemoryState
from .mixers import MIXERS, MixerState
from .persistent import PersistentMemory


@dataclass
class TitansState:
    """What ``Titans`` carries from one call to the next: one ``MixerState`` per block, in order.

    ``position`` 0 means a sequence starts with the next call (the persistent tokens are prepended then).
    """

    blocks: tuple[MixerState, ...]

    @property
    def position(self) -> int:
        """Tokens of the sequence seen so far, persistent tokens included."""
        return self.blocks[0].position

    @property
    def memories(self) -> tuple[MemoryState, ...]:
        """Each block's neural-memory state."""
        return tuple(block.memory for block in self.blocks)

    def map(self, fn: Callable[[Tensor], Tensor]) -> TitansState:
        """The state with ``fn`` applied to every tensor."""
        return TitansState(tuple(block.map(fn) for block in self.blocks))

    def detach(self) -> TitansState:
        """The same state cut from the autograd graph (truncated backprop through time)."""
        return self.map(Tensor.detach)

    def repeat(self, times: int) -> TitansState:
        """The state of ``times`` copies of the batch, laid one after another (batch b·times + i is copy b of i)."""
        return self.map(lambda t: t.repeat(times, *[1] * (t.dim() - 1)))

    def carried(self) -> TitansState:
        """A new sequence, read by memories that keep their weights M and momentum S; everything else (attention
        context, convolution history, open chunks and segments) starts afresh. What online forecasting carries."""
        return TitansState(tuple(block.carried() for block in self.blocks))

    def traced(self) -> TitansState:
        """The same state, every memory recording its writes from here on (``MemoryState.trace``)."""
        return TitansState(tuple(block.traced() for block in self.blocks))


class FeedForward(nn.Module):
    """SwiGLU feed-forward of every block (each mixer is paired with an MLP): (SiLU(x W_1) ⊙ x W_3) W_2."""

    def __init__(self, d_model: int, hidden: int) -> None:
        super().__init__()
        self.gate_up = nn.Linear(d_model, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class TitansBlock(nn.Module):
    """One block (§4): x ← x + Mixer(RMSNorm(x)); x ← x + FeedForward(RMSNorm(x)), dropout on both branches."""

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        self.mixer_norm = nn.RMSNorm(config.d_model)
        self.mixer = MIXERS[config.variant](config)
        self.ffn_norm = nn.RMSNorm(config.d_model)
        self.ffn = FeedForward(config.d_model, config.ffn_mult * config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, state: MixerState | None = None) -> tuple[Tensor, MixerState]:
        mixed, state = self.mixer(self.mixer_norm(x), state)
        x = x + self.dropout(mixed)
        return x + self.dropout(self.ffn(self.ffn_norm(x))), state


class Titans(nn.Module):
    """Titans (§4): a stack of blocks, (B, T, d_model) embeddings in, (B, T, d_model) causal features out.

    MAG, MAL and LMM prepend the persistent tokens once to the sequence (Eq. 19) and drop their outputs at the
    end; MAC holds its persistent tokens in every segment's attention context (Eq. 22).
    """

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        self.config = config
        prefix = config.n_persistent if config.variant != "mac" else 0
        self.persistent = PersistentMemory(prefix, config.d_model) if prefix else None
        self.blocks = nn.ModuleList(TitansBlock(config) for _ in range(config.n_layers))
        self.norm = nn.RMSNorm(config.d_model)

    def initial_state(self, batch: int) -> TitansState:
        """The start of ``batch`` sequences: every memory at M_0, nothing seen."""
        return TitansState(tuple(block.mixer.initial_state(batch) for block in self.blocks))

    def forward(self, x: Tensor, state: TitansState | None = None) -> tuple[Tensor, TitansState]:
        """Features (B, T, d_model) of the embeddings x (B, T, d_model) and the state after them; ``state`` (default:
        ``initial_state``) is where the sequence stands, so x continues it."""
        if x.dim() != 3 or x.shape[-1] != self.config.d_model:
            raise ValueError(f"Titans expects (batch, time, {self.config.d_model}) embeddings, got {tuple(x.shape)}")
        states = state.blocks if state is not None else (None,) * len(self.blocks)
        prefix = self.persistent is not None and (state is None or state.position == 0)
        if prefix:
            x = self.persistent.prepend(x)
        ends = []
        for block, block_state in zip(self.blocks, states):
            x, block_state = block(x, block_state)
            ends.append(block_state)
        x = self.norm(x)
        return (x[:, self.persistent.tokens.shape[0] :] if prefix else x), TitansState(tuple(ends))
