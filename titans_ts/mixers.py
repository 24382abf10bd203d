"""The sequence mixers of the Titans variants (§4): how each combines the neural memory, attention and persistent
memory. ``MIXERS`` is the registry of variants: add a mixer here and ``TitansConfig`` accepts its name.

Every mixer maps ``(x, state) -> (y, state)``, x and y (B, T, d_model): fed a sequence in pieces, passing the state
along, it gives what it gives on the whole sequence (``MixerState`` holds everything a later token can see).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import Attention, segment_mask, sliding_window_mask
from .memory import MemoryState, NeuralMemory
from .persistent import PersistentMemory

if TYPE_CHECKING:
    from .config import TitansConfig


@dataclass
class MixerState:
    """What a mixer carries from one call to the next.

    memory:         its neural memory's state;
    position:       tokens of the sequence seen so far (persistent tokens included), where the next token stands;
    context:        the attention inputs a later token can still see (B, n, d_model), or None: for MAG and MAL the
                    persistent tokens and the last ``window − 1`` tokens, for MAC the tokens of the open segment;
    segment_memory: MAC: the memory as the open segment found it (the segment's retrieval reads it), else None.
    """

    memory: MemoryState
    position: int = 0
    context: Tensor | None = None
    segment_memory: MemoryState | None = None

    def map(self, fn: Callable[[Tensor], Tensor]) -> MixerState:
        """The state with ``fn`` applied to every tensor (e.g. ``Tensor.detach``, a batch repeat)."""
        return MixerState(
            self.memory.map(fn),
            self.position,
            None if self.context is None else fn(self.context),
            None if self.segment_memory is None else self.segment_memory.map(fn),
        )

    def carried(self) -> MixerState:
        """A new sequence, read by a memory that keeps what it has learned (``MemoryState.carried``)."""
        return MixerState(self.memory.carried())

    def traced(self) -> MixerState:
        """The same state, its memory recording every write from here on."""
        return replace(self, memory=self.memory.traced())


def build_memory(config: TitansConfig) -> NeuralMemory:
    """The neural memory (Eq. 12-18) of one block, as the config describes it."""
    return NeuralMemory(
        config.d_model,
        n_heads=config.n_heads,
        depth=config.memory_depth,
        expansion=config.memory_expansion,
        chunk_size=config.chunk_size,
        conv_size=config.conv_size,
        gates=config.gates,
        learned_init=config.learned_init,
        theta_max=config.theta_max,
        eta_max=config.eta_max,
        alpha_max=config.alpha_max,
        update=config.memory_update,
        detach_state=config.detach_state,
        backend=config.backend,
    )


class MemoryMixer(nn.Module):
    """A mixer with one neural memory; ``initial_state`` starts a sequence from M_0."""

    memory: NeuralMemory

    def initial_state(self, batch: int) -> MixerState:
        """The start of a sequence: the memory's initial state, nothing seen."""
        return MixerState(self.memory.initial_state(batch))


class MemoryAsContext(MemoryMixer):
    """MAC (Eq. 21-25), segment by segment with the memory state carried between segments:

    h_t = M*_{t−1}(q_t);  y_t = Attn([p_1 … p_Np] ‖ h_t ‖ S^(t));  M_t = M_{t−1}(y_t);  o_t = y_t ⊗ M*_t(y_t).

    Inside a segment token i attends to all persistent tokens and to h_j, x_j with j ≤ i, and reads the memory
    just after its own write, so the layer is causal. A call that ends inside a segment leaves it open in the state;
    the next call's first tokens complete it.
    """

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        self.segment_size = config.segment_size
        self.memory = build_memory(config)
        self.persistent = PersistentMemory(config.n_persistent, config.d_model)
        self.attention = Attention(config.d_model, config.n_heads, config.dropout)

    def forward(self, x: Tensor, state: MixerState | None = None) -> tuple[Tensor, MixerState]:
        state = state or self.initial_state(x.shape[0])
        memory, start_memory = state.memory, state.segment_memory or state.memory
        segment = state.context if state.context is not None else x[:, :0]
        n_persistent, outputs, first = self.persistent.tokens.shape[0], [], 0
        while first < x.shape[1]:
            seen = segment.shape[1]
            new = x[:, first : first + self.segment_size - seen]
            segment = torch.cat([segment, new], dim=1)
            retrieved = self.memory.read(segment, start_memory)  # h_t (Eq. 21)
            context = torch.cat([self.persistent(x.shape[0]), retrieved, segment], dim=1)  # Eq. 22
            positions = torch.arange(segment.shape[1], device=x.device)
            key_positions = torch.cat([positions.new_zeros(n_persistent), positions, positions])
            mask = segment_mask(segment.shape[1], n_persistent, x.device)[seen:]
            y = self.attention(new, context, mask, positions[seen:], key_positions)  # Eq. 23
            written, memory = self.memory(y, memory)  # Eq. 24, then M*_t(y_t)
            outputs.append(y * written)  # Eq. 25
            first += new.shape[1]
            if segment.shape[1] == self.segment_size:
                segment, start_memory = segment[:, :0], memory
        position = state.position + x.shape[1]
        open_segment = (segment, start_memory) if segment.shape[1] else (None, None)
        return torch.cat(outputs, dim=1), MixerState(memory, position, *open_segment)


class SlidingWindowAttention(nn.Module):
    """SW-Attn*: causal attention over the last ``window`` tokens, the persistent prefix always in view."""

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        self.window, self.n_prefix = config.window, config.n_persistent
        self.attention = Attention(config.d_model, config.n_heads, config.dropout)

    def forward(self, x: Tensor, context: Tensor | None, position: int) -> tuple[Tensor, Tensor]:
        """Attend from x, whose first token stands at ``position``, to ``context`` (what ``forward`` returned last:
        the persistent tokens seen, then the last tokens before x) and x; returns the output and the next context."""
        keys = x if context is None else torch.cat([context, x], dim=1)
        prefix = min(self.n_prefix, position)
        recent = keys.shape[1] - x.shape[1] - prefix
        end = position + x.shape[1]
        key_positions = torch.cat(
            [torch.arange(prefix, device=x.device), torch.arange(end - x.shape[1] - recent, end, device=x.device)]
        )
        query_positions = key_positions[keys.shape[1] - x.shape[1] :]
        mask = sliding_window_mask(query_positions, key_positions, self.window, self.n_prefix)
        y = self.attention(x, keys, mask, query_positions, key_positions)
        visible = (key_positions < self.n_prefix) | (key_positions > end - self.window)
        return y, keys[:, visible]


class MemoryAsGate(MemoryMixer):
    """MAG (Eq. 26-28): o = RMSNorm(SW-Attn*(x̃)) ⊗ SiLU(RMSNorm(M(x̃))), the two branches side by side."""

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        self.attention = SlidingWindowAttention(config)
        self.memory = build_memory(config)
        self.attention_norm = nn.RMSNorm(config.d_model)
        self.memory_norm = nn.RMSNorm(config.d_model)

    def forward(self, x: Tensor, state: MixerState | None = None) -> tuple[Tensor, MixerState]:
        state = state or self.initial_state(x.shape[0])
        memory, memory_state = self.memory(x, state.memory)
        attended, context = self.attention(x, state.context, state.position)
        y = self.attention_norm(attended) * F.silu(self.memory_norm(memory))
        return y, MixerState(memory_state, state.position + x.shape[1], context)


class MemoryAsLayer(MemoryMixer):
    """MAL (Eq. 29-31): y = M(x̃), o = SW-Attn(y)."""

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        self.memory = build_memory(config)
        self.attention = SlidingWindowAttention(config)

    def forward(self, x: Tensor, state: MixerState | None = None) -> tuple[Tensor, MixerState]:
        state = state or self.initial_state(x.shape[0])
        y, memory_state = self.memory(x, state.memory)
        attended, context = self.attention(y, state.context, state.position)
        return attended, MixerState(memory_state, state.position + x.shape[1], context)


class MemoryOnly(MemoryMixer):
    """LMM: the neural memory as the sequence mixer, without attention."""

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        self.memory = build_memory(config)

    def forward(self, x: Tensor, state: MixerState | None = None) -> tuple[Tensor, MixerState]:
        state = state or self.initial_state(x.shape[0])
        y, memory_state = self.memory(x, state.memory)
        return y, MixerState(memory_state, state.position + x.shape[1])


MIXERS: dict[str, type[MemoryMixer]] = {
    "mac": MemoryAsContext,
    "mag": MemoryAsGate,
    "mal": MemoryAsLayer,
    "lmm": MemoryOnly,
}
"""Variant name → mixer class; ``TitansConfig.variant`` takes these names."""
