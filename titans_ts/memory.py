"""The neural long-term memory layer (§3.1, §4.4): projections, gates and the memory update op.

    q_t, k_t, v_t = SiLU(Conv1d_causal(x_t W_Q | W_K | W_V)),  q_t, k_t ℓ2-normalised per head (§4.4)
    θ_t = θ_max σ(x_t w_θ),  η_t = η_max σ(x_t w_η),  α_t = α_max σ(x_t w_α)   data-dependent gates, per head (§3.1)
    y_t = M_t(q_t) after writing (k_t, v_t) with Eq. 13-18            (``ops.memory_update``, rule ``update``)
    out_t = (RMSNorm(y_t) ⊙ SiLU(x_t W_G)) W_O                         output norm and gate (§4.4)

A state that records (``MemoryState.traced``) keeps what each write did: its surprise ℓ_t = ‖M(k_t) − v_t‖² and
‖∇ℓ_t‖ (Eq. 12, at the weights the update takes the gradient at: M_{t−1} for the exact per-token rule, else the
chunk-start M_{t'}), the step scale σ_t that the update's cap applied (1 when it did not act) and its gates θ_t, η_t,
α_t.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .ops.memory_update import UPDATE_RULES, MemoryOpState, UpdateRule, memory_update
from .ops.memory_update.coefficients import token_write_scale, write_scale
from .ops.memory_update.mlp import mlp_forward

GateMode = Literal["token", "chunk"]


@dataclass
class MemoryState:
    """What a ``NeuralMemory`` carries from one call to the next.

    op:          the memory's weights, momentum and chunk position (``MemoryOpState``);
    conv:        the last ``conv_size − 1`` projected inputs, the causal convolution's history (B, 3·H·d, K−1);
    chunk_gates: θ, η, α of the chunk in progress (B, H, 3), used when gates are per chunk;
    trace:       None, or (B, H, T, 6) records over ``TRACE_FIELDS`` of every write since tracing started
                 (``traced()``); each call appends its writes.
    """

    op: MemoryOpState
    conv: Tensor
    chunk_gates: Tensor
    trace: Tensor | None = None

    def map(self, fn: Callable[[Tensor], Tensor]) -> MemoryState:
        """The state with ``fn`` applied to every tensor (e.g. ``Tensor.detach``, a batch repeat)."""
        trace = None if self.trace is None else fn(self.trace)
        return MemoryState(self.op.map(fn), fn(self.conv), fn(self.chunk_gates), trace)

    def detach(self) -> MemoryState:
        """The same state cut from the autograd graph (truncated backprop through time)."""
        return self.map(Tensor.detach)

    def traced(self) -> MemoryState:
        """The same state, recording every write from here on (``trace`` starts empty)."""
        batch, heads = self.chunk_gates.shape[:2]
        return replace(self, trace=self.chunk_gates.new_zeros(batch, heads, 0, len(TRACE_FIELDS)))

    def carried(self) -> MemoryState:
        """A new sequence read by this memory: its weights M and momentum S kept, the convolution history, chunk and
        gates as at the start of any sequence, the trace (if recording) emptied. What online forecasting carries."""
        fresh = MemoryState(
            MemoryOpState.at_chunk_start(self.op.weights, self.op.momentum),
            torch.zeros_like(self.conv),
            torch.zeros_like(self.chunk_gates),
        )
        return fresh if self.trace is None else fresh.traced()


TRACE_FIELDS = ("surprise", "grad_norm", "step_scale", "theta", "eta", "alpha")
"""What ``NeuralMemory.trace`` records per token, in this order along its last axis."""


def write_surprise(reference: tuple[Tensor, ...], k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """ℓ_t = ‖M(k_t) − v_t‖² (summed over features, Eq. 12) and the norm of its gradient over all the memory's
    weights, ‖∇_M ℓ_t‖, per token at the weights ``reference`` (B, H, d_in, d_out per layer): each (B, H, T)."""

    def token_loss(weights: tuple[Tensor, ...], k_t: Tensor, v_t: Tensor) -> Tensor:
        return (mlp_forward(weights, k_t[:, :, None]) - v_t[:, :, None]).pow(2).sum()

    loss = (mlp_forward(reference, k) - v).pow(2).sum(-1)
    grads = torch.func.vmap(torch.func.grad(token_loss), in_dims=(None, 2, 2))(tuple(reference), k, v)
    grad_norm = sum(g.pow(2).sum((-2, -1)) for g in grads).sqrt()  # (T, B, H): each (b, h) has its own weights
    return loss, grad_norm.permute(1, 2, 0)


class NeuralMemory(nn.Module):
    """Neural long-term memory (§3.1, Eq. 12-18): ``y, state = memory(x, state)``, x and y of shape (B, T, d_model).

    Feeding a sequence in pieces, passing the returned state along, gives the same outputs as feeding it whole.

    Args:
        d_model: width of the input and output.
        n_heads: number of independent memories; each sees d_head-wide keys, values and queries.
        d_head: width per head (default d_model // n_heads).
        depth: L_M, layers of the memory MLP (1 = linear matrix memory).
        expansion: hidden width of a deep memory, as a multiple of d_head.
        chunk_size: b, the chunk of the update: a speed knob for the exact per-token rule (depth 1), the mini-batch
            of Eq. 16 otherwise (gradients at the chunk-start weights).
        conv_size: kernel of the depthwise causal convolution after the projections (1 disables it).
        gates: "token" (θ, η, α per token, the default) or "chunk" (each chunk uses its first token's gates).
        learned_init: M_0 is a parameter; otherwise M_0 is the zero function (last layer 0, hidden layers fixed).
        theta_max: upper bound of the learning rate θ_t.
        eta_max: upper bound of the momentum decay η_t (heavy-ball momentum near 1 diverges on drifting keys).
        alpha_max: upper bound of the forgetting α_t (1: the paper's gate; below 1 a memory carried over a long
            stream decays more slowly toward 0).
        update: "stable" (exact per-token rule at depth 1, Eq. 16 with a causal step cap at depth ≥ 2) or
            "minibatch" (the paper's Eq. 16 as written); ``ops.memory_update.coefficients``.
        detach_state: cut the returned state from the graph (truncated backprop through time).
        backend: memory-update path: "auto", "chunked", "recurrent" or (when registered) "triton".
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int = 4,
        d_head: int | None = None,
        depth: int = 2,
        expansion: int = 2,
        chunk_size: int = 16,
        conv_size: int = 4,
        gates: GateMode = "token",
        learned_init: bool = True,
        theta_max: float = 0.1,
        eta_max: float = 0.9,
        alpha_max: float = 1.0,
        update: UpdateRule = "stable",
        detach_state: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if depth < 1 or chunk_size < 1 or conv_size < 1:
            raise ValueError(f"depth, chunk_size and conv_size must be ≥ 1, got {depth}, {chunk_size}, {conv_size}")
        if gates not in ("token", "chunk"):
            raise ValueError(f"gates must be 'token' or 'chunk', got {gates!r}")
        if not (theta_max > 0 and 0 <= eta_max < 1):
            raise ValueError(f"theta_max must be > 0 and eta_max in [0, 1), got {theta_max}, {eta_max}")
        if not 0 < alpha_max <= 1:
            raise ValueError(f"alpha_max must be in (0, 1], got {alpha_max}")
        if update not in UPDATE_RULES:
            raise ValueError(f"update must be one of {', '.join(UPDATE_RULES)}; got {update!r}")
        self.n_heads, self.d_head = n_heads, d_head or d_model // n_heads
        self.chunk_size, self.conv_size, self.gate_mode = chunk_size, conv_size, gates
        self.theta_max, self.eta_max, self.alpha_max, self.update = theta_max, eta_max, alpha_max, update
        self.detach_state, self.backend = detach_state, backend
        self.depth = depth
        inner = n_heads * self.d_head
        self.qkv = nn.Linear(d_model, 3 * inner, bias=False)
        self.conv = nn.Conv1d(3 * inner, 3 * inner, conv_size, groups=3 * inner, bias=False)
        self.gates = nn.Linear(d_model, 3 * n_heads)
        with torch.no_grad():  # start near θ = θ_max / 2, η = η_max / 2, α ≈ 0.02 α_max
            self.gates.bias.view(3, n_heads)[2].fill_(-4.0)
        widths = [self.d_head] + [expansion * self.d_head] * (depth - 1) + [self.d_head]
        init = [torch.randn(n_heads, i, o) / i**0.5 for i, o in zip(widths[:-1], widths[1:])]
        if not learned_init:
            init[-1].zero_()
        self.init_weights = nn.ParameterList(nn.Parameter(w, requires_grad=learned_init) for w in init)
        self.out_norm = nn.RMSNorm(self.d_head)
        self.out_gate = nn.Linear(d_model, inner, bias=False)
        self.out = nn.Linear(inner, d_model, bias=False)

    def initial_state(self, batch: int) -> MemoryState:
        """M_0 (learned or zero function), S_0 = 0, an empty convolution history, at the start of a chunk."""
        weights = tuple(w.expand(batch, *w.shape) for w in self.init_weights)
        momentum = tuple(torch.zeros_like(w) for w in weights)
        ref = weights[0]
        conv = ref.new_zeros(batch, self.conv.in_channels, self.conv_size - 1)
        return MemoryState(MemoryOpState.at_chunk_start(weights, momentum), conv, ref.new_zeros(batch, self.n_heads, 3))

    def _project(self, x: Tensor, history: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """q, k, v of shape (B, H, T, d_head) and the convolution history that follows x."""
        batch, length, _ = x.shape
        projected = torch.cat([history, self.qkv(x).transpose(1, 2)], dim=2)
        qkv = F.silu(self.conv(projected)).view(batch, 3, self.n_heads, self.d_head, length)
        q, k, v = qkv.permute(1, 0, 2, 4, 3).contiguous().unbind(0)  # (B, H, T, d) with d innermost: fast matmuls
        history = projected[:, :, projected.shape[2] - (self.conv_size - 1) :]
        return F.normalize(q, dim=-1), F.normalize(k, dim=-1), v, history

    def _gates(self, x: Tensor, state: MemoryState) -> tuple[Tensor, Tensor]:
        """θ_t, η_t, α_t stacked as (B, H, T, 3), and the gates of the chunk left open at the end of x."""
        raw = self.gates(x).view(*x.shape[:2], 3, self.n_heads).permute(0, 3, 1, 2)
        scale = raw.new_tensor([self.theta_max, self.eta_max, self.alpha_max])
        gates = torch.sigmoid(raw) * scale
        if self.gate_mode == "chunk":
            positions = torch.arange(x.shape[1], device=x.device)
            opener = positions - (state.op.offset + positions) % self.chunk_size  # index of each chunk's first token
            own = gates[:, :, opener.clamp(min=0)]
            gates = torch.where((opener < 0)[:, None], state.chunk_gates[:, :, None], own)
        return gates, gates[:, :, -1]

    def _output(self, y: Tensor, x: Tensor) -> Tensor:
        """Per-head RMSNorm of the read-out, SiLU gate from x, output projection."""
        y = self.out_norm(y).transpose(1, 2).reshape(*x.shape[:2], -1)
        return self.out(y * F.silu(self.out_gate(x)))

    def forward(self, x: Tensor, state: MemoryState | None = None) -> tuple[Tensor, MemoryState]:
        """Write every token of x into the memory and read each after its write (Eq. 13-18); a state that records
        (``MemoryState.traced``) comes back with this call's writes appended to its trace."""
        state = state or self.initial_state(x.shape[0])
        q, k, v, history = self._project(x, state.conv)
        gates, open_gates = self._gates(x, state)
        if state.trace is None:
            theta, eta, alpha = gates.unbind(-1)
            y, op_state = memory_update(q, k, v, theta, eta, alpha, state.op, self.chunk_size, self.backend,
                                        self.update)
            trace = None
        else:
            y, op_state, records = self._traced_update(q, k, v, gates, state.op)
            trace = torch.cat([state.trace, records], dim=2)
        new_state = MemoryState(op_state, history, open_gates, trace)
        return self._output(y, x), new_state.detach() if self.detach_state else new_state

    @property
    def per_token(self) -> bool:
        """Whether the update is the exact per-token rule (depth 1, ``"stable"``): each gradient at M_{t−1}."""
        return self.update == "stable" and self.depth == 1

    def _step_scale(self, op: MemoryOpState, k: Tensor, theta: Tensor, eta: Tensor) -> Tensor:
        """σ_t of the writes (k, θ, η) (B, H, T) that follow ``op``: the cap's prefix starts where the open chunk
        started, so the chunk's pending writes come first; each token's own at depth 1. 1 under ``"minibatch"``."""
        if self.update != "stable":
            return torch.ones_like(theta)
        if self.per_token:
            return token_write_scale(k, theta, eta)
        if op.pending:
            seen_k, _, seen_theta, seen_eta, _ = op.pending
            k, theta, eta = (torch.cat(pair, dim=2) for pair in ((seen_k, k), (seen_theta, theta), (seen_eta, eta)))
        return write_scale(op.chunk_weights, k, theta, eta)[:, :, op.offset :]

    def _traced_update(
        self, q: Tensor, k: Tensor, v: Tensor, gates: Tensor, op: MemoryOpState
    ) -> tuple[Tensor, MemoryOpState, Tensor]:
        """The update of ``forward``, one gradient point at a time (a token for the per-token rule, else a chunk) so
        that each write's surprise is taken where the update takes its gradient: the read-out (B, H, T, d), the state,
        and the records (B, H, T, 6) over ``TRACE_FIELDS``."""
        unit = 1 if self.per_token else self.chunk_size
        start, outputs, records = 0, [], []
        while start < q.shape[2]:
            part = slice(start, min(q.shape[2], start + unit - op.offset % unit))
            theta, eta, alpha = gates[:, :, part].unbind(-1)
            at = op.weights if self.per_token else op.chunk_weights
            surprise, grad_norm = write_surprise(at, k[:, :, part], v[:, :, part])
            scale = self._step_scale(op, k[:, :, part], theta, eta)
            records.append(torch.stack([surprise, grad_norm, scale], dim=-1))
            y, op = memory_update(q[:, :, part], k[:, :, part], v[:, :, part], theta, eta, alpha, op,
                                  self.chunk_size, self.backend, self.update)
            outputs.append(y)
            start = part.stop
        return torch.cat(outputs, dim=2), op, torch.cat([torch.cat(records, dim=2), gates], dim=-1)

    def read(self, x: Tensor, state: MemoryState | None = None) -> Tensor:
        """M*(q_t): read the memory as it stands in ``state`` without writing (Eq. 15, and Eq. 21 of MAC).

        The queries' convolution starts from an empty history: x is a stream of its own, not the written one.
        """
        state = state or self.initial_state(x.shape[0])
        q, _, _, _ = self._project(x, torch.zeros_like(state.conv))
        return self._output(mlp_forward(state.op.weights, q), x)


__all__ = ["TRACE_FIELDS", "MemoryState", "NeuralMemory", "write_surprise"]
