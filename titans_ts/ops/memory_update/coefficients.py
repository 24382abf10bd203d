"""What every path of the update computes from the gates and keys of a chunk, before its recurrence runs.

**Scans** (Eq. 17-18). Inside a chunk of b tokens the recurrences S_t = η_t S_{t−1} − θ_t u_t and
M_t = (1 − α_t) M_{t−1} + S_t are linear in the writes u_s and unroll to

    S_t = E_t S_{t'} − Σ_{s≤t} F_{ts} θ_s u_s,      M_t = β_t M_{t'} + g_t S_{t'} − Σ_{s≤t} C_{ts} u_s,

with F_{rs} = Π_{j=s+1..r} η_j, D_{tr} = Π_{j=r+1..t} (1 − α_j), E_t = Π_{j≤t} η_j, β_t = Π_{j≤t} (1 − α_j),
C = D F diag(θ) and g = D E (``chunk_coefficients``).

**Update rules.** ``"minibatch"`` is the paper's Eq. 16: every u_s of a chunk is the gradient at the chunk-start
weights M_{t'}. On co-directional keys (real series, DNA) a chunk then applies (1 − κ) along their shared direction,
κ = 2 λ_max(Σ_s C_{b,s} k_sᵀ k_s), and overshoots (κ > 1) or diverges (κ > 2); momentum counts a write c_s = θ_s /
(1 − η_s) times over. ``"stable"`` (the default) removes that failure without leaving the paper's function:

- depth 1: the exact per-token recurrence (b = 1: u_t taken at M_{t−1}), computed chunk-parallel. The errors
  Δ_t = 2 (k_t M_{t−1} − v_t) of a chunk solve one unit-lower-triangular system (DeltaNet's UT transform, with
  Titans' momentum and decay scans): (I + 2 tril(C_{t−1,s} k_t·k_s, −1)) Δ = 2 (β_{t−1} K M_{t'} + g_{t−1} K S_{t'} − V)
  (``exact_error_terms``). Chunk size is then only a speed knob. Heavy-ball momentum still diverges per token on
  drifting keys once 2 c_t ‖k_t‖² nears 1, so θ_t is scaled by σ_t = min(1, ρ / (2 c_t ‖k_t‖²)) (``token_write_scale``).
- depth ≥ 2: Eq. 16 with a causal step cap. Row t of the chunk's write coefficients (C and F diag(θ), the writes
  that M_t and S_t hold) is scaled by σ_t = min(1, ρ / κ_t), κ_t a bound on the step of the chunk's prefix 1..t at
  the chunk-start weights (``write_scale``; for one token it is depth 1's cap). σ_t = 1 whenever that prefix cannot
  overshoot, so the cap is the identity on chunks that Eq. 16 handles well, and it never looks at a later token.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor

from .mlp import activation, activation_grad

UpdateRule = Literal["stable", "minibatch"]
UPDATE_RULES: tuple[str, ...] = ("stable", "minibatch")
STEP_CAP = 0.5
"""ρ of the step caps: a write (momentum included), or a chunk prefix's writes, may move the memory at most half-way
along any key direction."""


class ChunkCoefficients(NamedTuple):
    """The scans of one or more chunks, gates (..., c) → matrices (..., c, c) and vectors (..., c)."""

    write: Tensor  # C = D F diag(θ): weight of u_s in M_t
    momentum_write: Tensor  # F diag(θ): weight of u_s in S_t
    weight_carry: Tensor  # β_t: weight of M_{t'} in M_t
    momentum_into_weights: Tensor  # g_t: weight of S_{t'} in M_t
    momentum_carry: Tensor  # E_t: weight of S_{t'} in S_t

    def scale_rows(self, scale: Tensor) -> ChunkCoefficients:
        """Row t of both write matrices times ``scale`` (..., c): the writes that M_t and S_t hold, scaled by σ_t."""
        rows = scale.unsqueeze(-1)
        return self._replace(write=self.write * rows, momentum_write=self.momentum_write * rows)


def chunk_coefficients(theta: Tensor, eta: Tensor, alpha: Tensor) -> ChunkCoefficients:
    """The momentum and decay scans of Eq. 17-18 for chunks of gates laid out along the last axis (c positions).

    Built row by row, as the recurrences themselves run (for all chunks at once): row t of F diag(θ) is η_t times
    row t−1 plus θ_t at s = t, row t of C is (1 − α_t) times row t−1 plus row t of F diag(θ), and likewise
    E_t = η_t E_{t−1}, β_t = (1 − α_t) β_{t−1}, g_t = (1 − α_t) g_{t−1} + E_t. Only products and sums of the gates,
    so gates equal to 0 or 1 stay exact, and no c×c matrix product is needed.
    """
    c = theta.shape[-1]
    keep = 1 - alpha
    own = torch.eye(c, dtype=theta.dtype, device=theta.device)
    momentum_row = write_row = theta.new_zeros(theta.shape)
    momentum_carry = weight_carry = theta.new_ones(theta.shape[:-1])
    gain = theta.new_zeros(theta.shape[:-1])
    rows: list[tuple[Tensor, ...]] = []
    for t in range(c):
        eta_t, keep_t = eta[..., t], keep[..., t]
        momentum_row = eta_t.unsqueeze(-1) * momentum_row + theta[..., t, None] * own[t]
        write_row = keep_t.unsqueeze(-1) * write_row + momentum_row
        momentum_carry, weight_carry = eta_t * momentum_carry, keep_t * weight_carry
        gain = keep_t * gain + momentum_carry
        rows.append((write_row, momentum_row, weight_carry, gain, momentum_carry))
    matrices = [torch.stack(column, dim=-2) for column in list(zip(*rows))[:2]]
    vectors = [torch.stack(column, dim=-1) for column in list(zip(*rows))[2:]]
    return ChunkCoefficients(*matrices, *vectors)


def _previous(x: Tensor, first: float) -> Tensor:
    """x_{t−1} along the last axis, ``first`` for the chunk's first token."""
    return torch.cat([torch.full_like(x[..., :1], first), x[..., :-1]], dim=-1)


def unit_lower_inverse(strict: Tensor) -> Tensor:
    """(I + A)⁻¹ for strictly lower-triangular A (..., c, c). A is nilpotent (Aᶜ = 0), so the Neumann series ends:
    (I + A)⁻¹ = Σ_{j<c} (−A)ʲ = (I − A)(I + A²)(I + A⁴)…, ⌈log₂ c⌉ − 1 squarings and as many products, batched
    (on the CPU far faster than a batched triangular solve of many small systems)."""
    eye = torch.eye(strict.shape[-1], dtype=strict.dtype, device=strict.device)
    power = -strict
    inverse, span = eye + power, 2
    while span < strict.shape[-1]:
        power = power @ power
        inverse = inverse @ (eye + power)
        span *= 2
    return inverse


def exact_error_terms(k: Tensor, v: Tensor, scans: ChunkCoefficients) -> tuple[Tensor, Tensor, Tensor]:
    """Depth 1, exact per-token update: (K_W, K_S, V') with the chunk's errors Δ = K_W M_{t'} + K_S S_{t'} − V'.

    Δ_t = 2 (k_t M_{t−1} − v_t) with M_{t−1} = β_{t−1} M_{t'} + g_{t−1} S_{t'} − Σ_{s<t} C_{t−1,s} k_sᵀ Δ_s, so
    (I + A) Δ = 2 β_{t−1} K M_{t'} + 2 g_{t−1} K S_{t'} − 2 V with A = 2 tril(C_{t−1,s} k_t·k_s, −1): one
    unit-lower-triangular system per chunk, for all chunks at once (k, v: (..., c, d); scans of the same chunks).
    """
    written_before = _previous(scans.write.transpose(-1, -2), 0.0).transpose(-1, -2)  # C_{t−1, s}
    inverse = unit_lower_inverse(torch.tril(2 * written_before * (k @ k.transpose(-1, -2)), -1))
    carry = _previous(scans.weight_carry, 1.0).unsqueeze(-1)  # β_{t−1}
    gain = _previous(scans.momentum_into_weights, 0.0).unsqueeze(-1)  # g_{t−1}
    solved = inverse @ torch.cat([2 * carry * k, 2 * gain * k, 2 * v], dim=-1)
    return solved.split([k.shape[-1], k.shape[-1], v.shape[-1]], dim=-1)


def minibatch_error_terms(k: Tensor, v: Tensor) -> tuple[Tensor, None, Tensor]:
    """Depth 1, Eq. 16: every error at the chunk-start weights, Δ = 2 K M_{t'} − 2 V (no momentum term)."""
    return 2 * k, None, 2 * v


def gauss_newton_gram(weights: tuple[Tensor, ...], k: Tensor) -> Tensor:
    """G_ts = ⟨J_t, J_s⟩ / d_out for the chunk's keys k (..., c, d), J_t = ∂M(k_t)/∂(all weights) at ``weights``.

    Per layer l with input a_t and output-Jacobian P_t = ∂M/∂(layer output), ⟨J_t, J_s⟩ adds (a_t·a_s) ⟨P_t, P_s⟩:
    the last layer gives A Aᵀ (P = I), the one before (A Aᵀ) ⊙ Γ with Γ_ts = Σ_j σ′_tj σ′_sj ‖W_{l+1, j}‖² / d_out.
    Depth 1 gives K Kᵀ, the Gram whose top eigenvalue decides whether a chunk overshoots.
    """
    inputs, pre = [k], []
    for w in weights[:-1]:
        pre.append(inputs[-1] @ w)
        inputs.append(activation(pre[-1]))
    d_out = weights[-1].shape[-1]
    gram = inputs[-1] @ inputs[-1].transpose(-1, -2)
    jacobian = None  # P_t of the layer above, (..., c, width, d_out); None while it is the identity
    for layer in range(len(weights) - 2, -1, -1):
        slope = activation_grad(pre[layer])
        above = weights[layer + 1]
        if jacobian is None:  # Σ_j σ′_tj σ′_sj ‖W_j‖²: no need to build P
            scaled = slope * above.pow(2).sum(-1).sqrt().unsqueeze(-2)
            overlap = scaled @ scaled.transpose(-1, -2)
            if layer:
                jacobian = slope.unsqueeze(-1) * above.unsqueeze(-3)
        else:
            jacobian = slope.unsqueeze(-1) * (above.unsqueeze(-3) @ jacobian)
            flat = jacobian.flatten(-2)
            overlap = flat @ flat.transpose(-1, -2)
        gram = gram + (inputs[layer] @ inputs[layer].transpose(-1, -2)) * overlap / d_out
    return gram


@torch.no_grad()
def token_write_scale(k: Tensor, theta: Tensor, eta: Tensor, cap: float = STEP_CAP) -> Tensor:
    """σ_t = min(1, ρ / (2 c_t ‖k_t‖²)) of the linear memory's per-token rule, c_t = θ_t / (1 − η_t): ``write_scale``
    of a one-token chunk (its Gram is ‖k_t‖²), outside the autograd graph; k (..., T, d), gates and σ (..., T)."""
    kappa = 2 * theta / (1 - eta) * k.pow(2).sum(-1)
    return (cap / kappa.clamp_min(torch.finfo(kappa.dtype).tiny)).clamp(max=1.0)


@torch.no_grad()
def write_scale(weights: tuple[Tensor, ...], k: Tensor, theta: Tensor, eta: Tensor, cap: float = STEP_CAP) -> Tensor:
    """σ_t = min(1, ρ / κ_t) of the depth ≥ 2 cap, for chunks of keys k (..., c, d) and gates (..., c).

    κ_t = 2 · max_{r≤t} Σ_{s≤t} |W_rs| (Gershgorin's bound on 2 λ_max of the t×t prefix) with
    W = diag(√c) G diag(√c), G the Gauss-Newton Gram at the chunk-start ``weights`` and c_s = θ_s / (1 − η_s) the
    total weight a write reaches in M through its momentum. Causal: σ_t reads tokens s ≤ t only. A step-size
    safeguard, outside the autograd graph (as a clipping factor is); (..., c).
    """
    root = (theta / (1 - eta)).sqrt()
    spread = (gauss_newton_gram(weights, k) * root.unsqueeze(-1) * root.unsqueeze(-2)).abs()
    prefix_rows = spread.cumsum(-1)  # [r, t] = Σ_{s≤t} |W_rs|
    c = k.shape[-2]
    later_rows = torch.ones(c, c, dtype=torch.bool, device=k.device).tril(-1)  # [r, t]: r > t
    kappa = 2 * prefix_rows.masked_fill(later_rows, 0.0).amax(-2)
    return (cap / kappa.clamp_min(torch.finfo(kappa.dtype).tiny)).clamp(max=1.0)
