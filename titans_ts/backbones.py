"""The Titans backbones (§4): MAC, MAG, MAL and the memory-only LMM, built from one ``TitansConfig``.

Every block is pre-norm residual: x ← x + Mixer(RMSNorm(x)), x ← x + SwiGLU(RMSNorm(x)); the mixer is
the variant's own combination of the neural memory, attention and persistent memory. Inputs are
embeddings (B, T, d_model); the backbone knows nothing of time series or DNA.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import Attention, segment_mask, sliding_window_mask
from .config import TitansConfig
from .memory import NeuralMemory
from .persistent import PersistentMemory


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
        update=config.memory_update,
        detach_state=config.detach_state,
        backend=config.backend,
    )


class MemoryAsContext(nn.Module):
    """MAC (Eq. 21-25), segment by segment with the memory state carried between segments:

    h_t = M*_{t−1}(q_t);  y_t = Attn([p_1 … p_Np] ‖ h_t ‖ S^(t));  M_t = M_{t−1}(y_t);  o_t = y_t ⊗ M*_t(y_t).

    Inside a segment token i attends to all persistent tokens and to h_j, x_j with j ≤ i, and reads the memory
    just after its own write, so the layer is causal.
    """

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        self.segment_size = config.segment_size
        self.memory = build_memory(config)
        self.persistent = PersistentMemory(config.n_persistent, config.d_model)
        self.attention = Attention(config.d_model, config.n_heads, config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        state, outputs = None, []
        n_persistent = self.persistent.tokens.shape[0]
        for segment in x.split(self.segment_size, dim=1):
            length = segment.shape[1]
            retrieved = self.memory.read(segment, state)  # h_t (Eq. 21)
            context = torch.cat([self.persistent(x.shape[0]), retrieved, segment], dim=1)  # Eq. 22
            positions = torch.arange(length, device=x.device)
            key_positions = torch.cat([positions.new_zeros(n_persistent), positions, positions])
            mask = segment_mask(length, n_persistent, x.device)
            y = self.attention(segment, context, mask, positions, key_positions)  # Eq. 23
            written, state = self.memory(y, state)  # Eq. 24, then M*_t(y_t)
            outputs.append(y * written)  # Eq. 25
        return torch.cat(outputs, dim=1)


class SlidingWindowAttention(nn.Module):
    """SW-Attn*: causal attention over the last ``window`` tokens, the persistent prefix always in view."""

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        self.window, self.n_prefix = config.window, config.n_persistent
        self.attention = Attention(config.d_model, config.n_heads, config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        positions = torch.arange(x.shape[1], device=x.device)
        mask = sliding_window_mask(x.shape[1], self.window, self.n_prefix, x.device)
        return self.attention(x, x, mask, positions, positions)


class MemoryAsGate(nn.Module):
    """MAG (Eq. 26-28): o = RMSNorm(SW-Attn*(x̃)) ⊗ SiLU(RMSNorm(M(x̃))), the two branches side by side."""

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        self.attention = SlidingWindowAttention(config)
        self.memory = build_memory(config)
        self.attention_norm = nn.RMSNorm(config.d_model)
        self.memory_norm = nn.RMSNorm(config.d_model)

    def forward(self, x: Tensor) -> Tensor:
        memory, _ = self.memory(x)
        return self.attention_norm(self.attention(x)) * F.silu(self.memory_norm(memory))


class MemoryAsLayer(nn.Module):
    """MAL (Eq. 29-31): y = M(x̃), o = SW-Attn(y)."""

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        self.memory = build_memory(config)
        self.attention = SlidingWindowAttention(config)

    def forward(self, x: Tensor) -> Tensor:
        y, _ = self.memory(x)
        return self.attention(y)


class MemoryOnly(nn.Module):
    """LMM: the neural memory as the sequence mixer, without attention."""

    def __init__(self, config: TitansConfig) -> None:
        super().__init__()
        self.memory = build_memory(config)

    def forward(self, x: Tensor) -> Tensor:
        return self.memory(x)[0]


MIXERS: dict[str, type[nn.Module]] = {
    "mac": MemoryAsContext,
    "mag": MemoryAsGate,
    "mal": MemoryAsLayer,
    "lmm": MemoryOnly,
}


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

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.dropout(self.mixer(self.mixer_norm(x)))
        return x + self.dropout(self.ffn(self.ffn_norm(x)))


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

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[-1] != self.config.d_model:
            raise ValueError(f"Titans expects (batch, time, {self.config.d_model}) embeddings, got {tuple(x.shape)}")
        if self.persistent is not None:
            x = self.persistent.prepend(x)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return x if self.persistent is None else x[:, self.persistent.tokens.shape[0] :]
