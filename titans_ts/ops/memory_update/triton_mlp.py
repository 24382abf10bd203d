"""Triton kernels of the deep memory with two layers (L_M = 2), forward and backward, one chunk of b tokens per step.

M(x) = σ(x W₁) W₂ with σ = SiLU. At the chunk-start weights W₁, W₂ and momenta S₁, S₂ (Eq. 16), per chunk:

    Z = K W₁, A = σ(Z), δ₂ = 2 (A W₂ − V), δ₁ = (δ₂ W₂^T) ⊙ σ'(Z)      layer inputs and errors of ℓ = ‖M(k) − v‖²
    H = β ⊙ (Q W₁) + g ⊙ (Q S₁) − ((Q K^T) ⊙ C) δ₁,  X = σ(H)            first layer of the reads (Eq. 15)
    Y = β ⊙ (X W₂) + g ⊙ (X S₂) − ((X A^T) ⊙ C) δ₂
    W₁' = β_L W₁ + g_L S₁ − K^T (c ⊙ δ₁),  S₁' = E_L S₁ − K^T (f ⊙ δ₁)     chunk end (Eq. 13-14), and the same
    W₂' = β_L W₂ + g_L S₂ − A^T (c ⊙ δ₂),  S₂' = E_L S₂ − A^T (f ⊙ δ₂)     for the second layer with A and δ₂

with the gate terms of ``triton_linear.GateTerms``. The errors couple every column of the weights, so one
program owns a whole (batch·head) and carries all four matrices.

Update ``"stable"`` caps the step (``coefficients.write_scale``), computed in the kernel at the chunk-start weights:

    Γ = (σ'(Z) ⊙ √r)(σ'(Z) ⊙ √r)^T / d_out with r_j = Σ_o (W₂)_jo²,  G = A A^T + (K K^T) ⊙ Γ   Gauss-Newton Gram
    Ω = |G ⊙ √c √c^T| with c_s = θ_s / (1 − η_s),  κ_t = 2 max_{r≤t} Σ_{s≤t} Ω_rs,  σ_t = min(1, ρ / κ_t)

and row t of C is scaled by σ_t, c and f by σ of the chunk's last token (``GateTerms.scale_writes``). σ is a
constant for autograd: the forward stores it, and the backward runs on the gate terms scaled by it (the forward
recomputation then without the cap) and scales their gradients by it. The backward recomputes the chunk-start
states with the forward kernel and walks the chunks in reverse; σ'' enters through δ₁'s dependence on Z.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from .coefficients import STEP_CAP
from .triton_linear import GateTerms, _block, _load_gate_terms, _load_rows, _load_tokens, dot_precision


@triton.jit
def _sigmoid(z):
    """sigmoid through exp of −|z|, which cannot overflow (and the interpreter has no libdevice)."""
    e = tl.exp(-tl.abs(z))
    return tl.where(z >= 0, 1.0, e) / (1.0 + e)


@triton.jit
def _step_scale(b_k, b_a, b_dsig, b_w2, b_root, o_t, RHO, DV, PRECISION: tl.constexpr):
    """σ_t = min(1, ρ / κ_t) = ρ / max(κ_t, ρ) of the chunk's tokens (BT) from its keys K, layer inputs A = σ(Z),
    slopes σ'(Z), the chunk-start W₂ and ``b_root`` = √c (0 on masked tokens); κ = 0 gives 1."""
    b_slope = b_dsig * tl.sqrt(tl.sum(b_w2 * b_w2, 1))[None, :]
    b_gram = tl.dot(b_a, tl.trans(b_a), input_precision=PRECISION) + tl.dot(
        b_k, tl.trans(b_k), input_precision=PRECISION
    ) * tl.dot(b_slope, tl.trans(b_slope), input_precision=PRECISION) / DV
    b_prefix = tl.cumsum(tl.abs(b_gram * b_root[:, None] * b_root[None, :]), axis=1)  # [r, t] = Σ_{s≤t} Ω_rs
    b_kappa = 2 * tl.max(tl.where(o_t[:, None] <= o_t[None, :], b_prefix, 0.0), axis=0)
    return RHO / tl.maximum(b_kappa, RHO)


@triton.jit
def _mlp_fwd_kernel(
    q,
    k,
    v,
    root,
    y,
    scale,
    coef,
    beta,
    gain,
    c_end,
    f_end,
    ends,
    w1_0,
    s1_0,
    w2_0,
    s2_0,
    w1_out,
    s1_out,
    w2_out,
    s2_out,
    w1_states,
    s1_states,
    w2_states,
    s2_states,
    T,
    N,
    CHUNK,
    RHO,
    DK: tl.constexpr,
    DH: tl.constexpr,
    DV: tl.constexpr,
    BK: tl.constexpr,
    BH: tl.constexpr,
    BV: tl.constexpr,
    BT: tl.constexpr,
    CAP: tl.constexpr,
    STORE_Y: tl.constexpr,
    STORE_STATES: tl.constexpr,
    PRECISION: tl.constexpr,
):
    i_bh = tl.program_id(0).to(tl.int64)
    o_t, o_k, o_h, o_v = tl.arange(0, BT), tl.arange(0, BK), tl.arange(0, BH), tl.arange(0, BV)
    m_c, m_k, m_h, m_v = o_t < CHUNK, o_k < DK, o_h < DH, o_v < DV
    first, second = i_bh * DK * DH, i_bh * DH * DV
    b_w1 = _load_rows(w1_0 + first, o_k, m_k, o_h, m_h, DH)
    b_s1 = _load_rows(s1_0 + first, o_k, m_k, o_h, m_h, DH)
    b_w2 = _load_rows(w2_0 + second, o_h, m_h, o_v, m_v, DV)
    b_s2 = _load_rows(s2_0 + second, o_h, m_h, o_v, m_v, DV)
    for n in range(N):
        t = n * CHUNK + o_t
        chunk = i_bh * N + n
        b_q, b_k, b_v = _load_tokens(q, k, v, i_bh, t, m_c, o_k, m_k, o_v, m_v, T, DK, DV)
        if STORE_STATES:
            p_1 = chunk * DK * DH + o_k[:, None] * DH + o_h[None, :]
            p_2 = chunk * DH * DV + o_h[:, None] * DV + o_v[None, :]
            tl.store(w1_states + p_1, b_w1, mask=m_k[:, None] & m_h[None, :])
            tl.store(s1_states + p_1, b_s1, mask=m_k[:, None] & m_h[None, :])
            tl.store(w2_states + p_2, b_w2, mask=m_h[:, None] & m_v[None, :])
            tl.store(s2_states + p_2, b_s2, mask=m_h[:, None] & m_v[None, :])
        b_c, b_beta, b_gain, b_cl, b_fl, beta_l, gain_l, carry_l = _load_gate_terms(
            coef, beta, gain, c_end, f_end, ends, chunk, CHUNK, o_t, m_c
        )
        b_z = tl.dot(b_k, b_w1, input_precision=PRECISION)
        b_sz = _sigmoid(b_z)
        b_a = b_z * b_sz
        b_dsig = b_sz * (1 + b_z * (1 - b_sz))  # σ'(Z)
        if CAP:
            b_root = tl.load(root + i_bh * T + t, mask=m_c, other=0.0)
            b_scale = _step_scale(b_k, b_a, b_dsig, b_w2, b_root, o_t, RHO, DV, PRECISION)
            tl.store(scale + chunk * CHUNK + o_t, b_scale, mask=m_c)
            b_c = b_c * b_scale[:, None]
            b_last = tl.sum(tl.where(o_t == CHUNK - 1, b_scale, 0.0), 0)
            b_cl, b_fl = b_cl * b_last, b_fl * b_last
        b_beta, b_gain, b_cl, b_fl = b_beta[:, None], b_gain[:, None], b_cl[:, None], b_fl[:, None]
        b_d2 = 2 * (tl.dot(b_a, b_w2, input_precision=PRECISION) - b_v)
        b_d1 = tl.dot(b_d2, tl.trans(b_w2), input_precision=PRECISION) * b_dsig
        if STORE_Y:
            b_hq = (
                b_beta * tl.dot(b_q, b_w1, input_precision=PRECISION)
                + b_gain * tl.dot(b_q, b_s1, input_precision=PRECISION)
                - tl.dot(tl.dot(b_q, tl.trans(b_k), input_precision=PRECISION) * b_c, b_d1, input_precision=PRECISION)
            )
            b_x = b_hq * _sigmoid(b_hq)
            b_y = (
                b_beta * tl.dot(b_x, b_w2, input_precision=PRECISION)
                + b_gain * tl.dot(b_x, b_s2, input_precision=PRECISION)
                - tl.dot(tl.dot(b_x, tl.trans(b_a), input_precision=PRECISION) * b_c, b_d2, input_precision=PRECISION)
            )
            tl.store(
                y + i_bh * T * DV + t[:, None] * DV + o_v[None, :],
                b_y.to(y.dtype.element_ty),
                mask=m_c[:, None] & m_v[None, :],
            )
        b_w1 = beta_l * b_w1 + gain_l * b_s1 - tl.dot(tl.trans(b_k), b_cl * b_d1, input_precision=PRECISION)
        b_s1 = carry_l * b_s1 - tl.dot(tl.trans(b_k), b_fl * b_d1, input_precision=PRECISION)
        b_w2 = beta_l * b_w2 + gain_l * b_s2 - tl.dot(tl.trans(b_a), b_cl * b_d2, input_precision=PRECISION)
        b_s2 = carry_l * b_s2 - tl.dot(tl.trans(b_a), b_fl * b_d2, input_precision=PRECISION)
    p_1 = first + o_k[:, None] * DH + o_h[None, :]
    p_2 = second + o_h[:, None] * DV + o_v[None, :]
    m_1, m_2 = m_k[:, None] & m_h[None, :], m_h[:, None] & m_v[None, :]
    tl.store(w1_out + p_1, b_w1, mask=m_1)
    tl.store(s1_out + p_1, b_s1, mask=m_1)
    tl.store(w2_out + p_2, b_w2, mask=m_2)
    tl.store(s2_out + p_2, b_s2, mask=m_2)


@triton.jit
def _mlp_bwd_kernel(
    q,
    k,
    v,
    dy,
    coef,
    beta,
    gain,
    c_end,
    f_end,
    ends,
    w1_states,
    s1_states,
    w2_states,
    s2_states,
    dw1_out,
    ds1_out,
    dw2_out,
    ds2_out,
    dq,
    dk,
    dv,
    dcoef,
    dbeta,
    dgain,
    dc_end,
    df_end,
    dends,
    dw1_0,
    ds1_0,
    dw2_0,
    ds2_0,
    T,
    N,
    CHUNK,
    DK: tl.constexpr,
    DH: tl.constexpr,
    DV: tl.constexpr,
    BK: tl.constexpr,
    BH: tl.constexpr,
    BV: tl.constexpr,
    BT: tl.constexpr,
    PRECISION: tl.constexpr,
):
    i_bh = tl.program_id(0).to(tl.int64)
    o_t, o_k, o_h, o_v = tl.arange(0, BT), tl.arange(0, BK), tl.arange(0, BH), tl.arange(0, BV)
    m_c, m_k, m_h, m_v = o_t < CHUNK, o_k < DK, o_h < DH, o_v < DV
    first, second = i_bh * DK * DH, i_bh * DH * DV
    p_1, p_2 = o_k[:, None] * DH + o_h[None, :], o_h[:, None] * DV + o_v[None, :]
    m_1, m_2 = m_k[:, None] & m_h[None, :], m_h[:, None] & m_v[None, :]
    b_dw1 = _load_rows(dw1_out + first, o_k, m_k, o_h, m_h, DH)
    b_ds1 = _load_rows(ds1_out + first, o_k, m_k, o_h, m_h, DH)
    b_dw2 = _load_rows(dw2_out + second, o_h, m_h, o_v, m_v, DV)
    b_ds2 = _load_rows(ds2_out + second, o_h, m_h, o_v, m_v, DV)
    for i in range(N):
        n = N - 1 - i
        t = n * CHUNK + o_t
        chunk = i_bh * N + n
        b_q, b_k, b_v = _load_tokens(q, k, v, i_bh, t, m_c, o_k, m_k, o_v, m_v, T, DK, DV)
        b_dy = _load_rows(dy + i_bh * T * DV, t, m_c, o_v, m_v, DV)
        b_c, b_beta, b_gain, b_cl, b_fl, beta_l, gain_l, carry_l = _load_gate_terms(
            coef, beta, gain, c_end, f_end, ends, chunk, CHUNK, o_t, m_c
        )
        b_beta, b_gain, b_cl, b_fl = b_beta[:, None], b_gain[:, None], b_cl[:, None], b_fl[:, None]
        b_w1 = tl.load(w1_states + chunk * DK * DH + p_1, mask=m_1, other=0.0)
        b_s1 = tl.load(s1_states + chunk * DK * DH + p_1, mask=m_1, other=0.0)
        b_w2 = tl.load(w2_states + chunk * DH * DV + p_2, mask=m_2, other=0.0)
        b_s2 = tl.load(s2_states + chunk * DH * DV + p_2, mask=m_2, other=0.0)

        # recompute the chunk's forward terms
        b_z = tl.dot(b_k, b_w1, input_precision=PRECISION)
        b_sz = _sigmoid(b_z)
        b_a = b_z * b_sz
        b_dsig = b_sz * (1 + b_z * (1 - b_sz))  # σ'(Z)
        b_d2 = 2 * (tl.dot(b_a, b_w2, input_precision=PRECISION) - b_v)
        b_g = tl.dot(b_d2, tl.trans(b_w2), input_precision=PRECISION)
        b_d1 = b_g * b_dsig
        b_p1 = tl.dot(b_q, tl.trans(b_k), input_precision=PRECISION)
        b_qw1 = tl.dot(b_q, b_w1, input_precision=PRECISION)
        b_qs1 = tl.dot(b_q, b_s1, input_precision=PRECISION)
        b_hq = b_beta * b_qw1 + b_gain * b_qs1 - tl.dot(b_p1 * b_c, b_d1, input_precision=PRECISION)
        b_sh = _sigmoid(b_hq)
        b_x = b_hq * b_sh
        b_p2 = tl.dot(b_x, tl.trans(b_a), input_precision=PRECISION)

        # second layer of the reads
        b_da2 = -tl.dot(b_dy, tl.trans(b_d2), input_precision=PRECISION)
        b_dp2 = b_da2 * b_c
        b_dx = (
            b_beta * tl.dot(b_dy, tl.trans(b_w2), input_precision=PRECISION)
            + b_gain * tl.dot(b_dy, tl.trans(b_s2), input_precision=PRECISION)
            + tl.dot(b_dp2, b_a, input_precision=PRECISION)
        )
        b_dd2 = -tl.dot(tl.trans(b_p2 * b_c), b_dy, input_precision=PRECISION)
        b_dyb, b_dyg = b_beta * b_dy, b_gain * b_dy
        b_dbeta = tl.sum(b_dy * tl.dot(b_x, b_w2, input_precision=PRECISION), 1)
        b_dgain = tl.sum(b_dy * tl.dot(b_x, b_s2, input_precision=PRECISION), 1)
        b_dcoef = b_da2 * b_p2
        b_da = tl.dot(tl.trans(b_dp2), b_x, input_precision=PRECISION)
        b_dh = b_dx * (b_sh * (1 + b_hq * (1 - b_sh)))
        # first layer of the reads
        b_da1 = -tl.dot(b_dh, tl.trans(b_d1), input_precision=PRECISION)
        b_dp1 = b_da1 * b_c
        b_dcoef += b_da1 * b_p1
        b_dbeta += tl.sum(b_dh * b_qw1, 1)
        b_dgain += tl.sum(b_dh * b_qs1, 1)
        b_dhb, b_dhg = b_beta * b_dh, b_gain * b_dh
        b_dq = (
            tl.dot(b_dhb, tl.trans(b_w1), input_precision=PRECISION)
            + tl.dot(b_dhg, tl.trans(b_s1), input_precision=PRECISION)
            + tl.dot(b_dp1, b_k, input_precision=PRECISION)
        )
        b_dk = tl.dot(tl.trans(b_dp1), b_q, input_precision=PRECISION)
        b_dd1 = -tl.dot(tl.trans(b_p1 * b_c), b_dh, input_precision=PRECISION)

        # chunk end: W₁', S₁' through δ₁ and K; W₂', S₂' through δ₂ and A
        b_kdw1 = tl.dot(b_k, b_dw1, input_precision=PRECISION)
        b_kds1 = tl.dot(b_k, b_ds1, input_precision=PRECISION)
        b_adw2 = tl.dot(b_a, b_dw2, input_precision=PRECISION)
        b_ads2 = tl.dot(b_a, b_ds2, input_precision=PRECISION)
        b_dd1 += -b_cl * b_kdw1 - b_fl * b_kds1
        b_dd2 += -b_cl * b_adw2 - b_fl * b_ads2
        b_dk -= tl.dot(b_cl * b_d1, tl.trans(b_dw1), input_precision=PRECISION) + tl.dot(
            b_fl * b_d1, tl.trans(b_ds1), input_precision=PRECISION
        )
        b_da -= tl.dot(b_cl * b_d2, tl.trans(b_dw2), input_precision=PRECISION) + tl.dot(
            b_fl * b_d2, tl.trans(b_ds2), input_precision=PRECISION
        )
        b_dc_end = -tl.sum(b_d1 * b_kdw1, 1) - tl.sum(b_d2 * b_adw2, 1)
        b_df_end = -tl.sum(b_d1 * b_kds1, 1) - tl.sum(b_d2 * b_ads2, 1)
        p_ends = dends + chunk * 3
        tl.store(p_ends, tl.sum(tl.sum(b_dw1 * b_w1, 1), 0) + tl.sum(tl.sum(b_dw2 * b_w2, 1), 0))
        tl.store(p_ends + 1, tl.sum(tl.sum(b_dw1 * b_s1, 1), 0) + tl.sum(tl.sum(b_dw2 * b_s2, 1), 0))
        tl.store(p_ends + 2, tl.sum(tl.sum(b_ds1 * b_s1, 1), 0) + tl.sum(tl.sum(b_ds2 * b_s2, 1), 0))

        # the keys' path: δ₁ = (δ₂ W₂^T) ⊙ σ'(Z), δ₂ = 2 (σ(Z) W₂ − V), Z = K W₁
        b_dg = b_dd1 * b_dsig
        b_dd2 += tl.dot(b_dg, b_w2, input_precision=PRECISION)
        b_da += 2 * tl.dot(b_dd2, tl.trans(b_w2), input_precision=PRECISION)
        b_dz = b_da * b_dsig + b_dd1 * b_g * (b_sz * (1 - b_sz) * (2 + b_z * (1 - 2 * b_sz)))
        b_dk += tl.dot(b_dz, tl.trans(b_w1), input_precision=PRECISION)

        p_vec = chunk * CHUNK + o_t
        tl.store(dbeta + p_vec, b_dbeta, mask=m_c)
        tl.store(dgain + p_vec, b_dgain, mask=m_c)
        tl.store(dc_end + p_vec, b_dc_end, mask=m_c)
        tl.store(df_end + p_vec, b_df_end, mask=m_c)
        tl.store(
            dcoef + chunk * CHUNK * CHUNK + o_t[:, None] * CHUNK + o_t[None, :],
            tl.where(o_t[:, None] >= o_t[None, :], b_dcoef, 0.0),
            mask=m_c[:, None] & m_c[None, :],
        )
        m_tk = m_c[:, None] & m_k[None, :]
        p_tk = (i_bh * T + t[:, None]) * DK + o_k[None, :]
        tl.store(dq + p_tk, b_dq.to(dq.dtype.element_ty), mask=m_tk)
        tl.store(dk + p_tk, b_dk.to(dk.dtype.element_ty), mask=m_tk)
        tl.store(
            dv + (i_bh * T + t[:, None]) * DV + o_v[None, :],
            (-2 * b_dd2).to(dv.dtype.element_ty),
            mask=m_c[:, None] & m_v[None, :],
        )

        # gradients of the chunk-start states
        b_new_dw1 = (
            beta_l * b_dw1
            + tl.dot(tl.trans(b_q), b_dhb, input_precision=PRECISION)
            + tl.dot(tl.trans(b_k), b_dz, input_precision=PRECISION)
        )
        b_ds1 = gain_l * b_dw1 + carry_l * b_ds1 + tl.dot(tl.trans(b_q), b_dhg, input_precision=PRECISION)
        b_new_dw2 = (
            beta_l * b_dw2
            + tl.dot(tl.trans(b_x), b_dyb, input_precision=PRECISION)
            + tl.dot(tl.trans(b_dg), b_d2, input_precision=PRECISION)
            + 2 * tl.dot(tl.trans(b_a), b_dd2, input_precision=PRECISION)
        )
        b_ds2 = gain_l * b_dw2 + carry_l * b_ds2 + tl.dot(tl.trans(b_x), b_dyg, input_precision=PRECISION)
        b_dw1, b_dw2 = b_new_dw1, b_new_dw2
    tl.store(dw1_0 + first + p_1, b_dw1, mask=m_1)
    tl.store(ds1_0 + first + p_1, b_ds1, mask=m_1)
    tl.store(dw2_0 + second + p_2, b_dw2, mask=m_2)
    tl.store(ds2_0 + second + p_2, b_ds2, mask=m_2)


def _shape(q: Tensor, w1: Tensor, w2: Tensor, chunk: int) -> dict[str, int]:
    """The kernels' sizes and blocks for flattened q (BH, T, d_k), W₁ (BH, d_k, d_h), W₂ (BH, d_h, d_v)."""
    d_k, d_h, d_v = w1.shape[1], w1.shape[2], w2.shape[2]
    return {
        "DK": d_k,
        "DH": d_h,
        "DV": d_v,
        "BK": _block(d_k),
        "BH": _block(d_h),
        "BV": _block(d_v),
        "BT": _block(chunk),
    }


MlpTokens = tuple[Tensor, Tensor, Tensor, Tensor | None]
"""What the kernels read per token, flattened to (BH, T, ...): q, k, v (any float dtype) and, for the step cap,
√(θ / (1 − η)) in float32 (None: no cap, Eq. 16 as written)."""


def _launch_forward(
    tokens: MlpTokens,
    coefficients: GateTerms,
    weights: tuple[Tensor, Tensor],
    momentum: tuple[Tensor, Tensor],
    chunk: int,
    store_states: bool,
) -> tuple[Tensor, tuple[Tensor, Tensor], tuple[Tensor, Tensor], Tensor, tuple[Tensor, ...]]:
    """y (BH, T, d_v) in v's dtype, final (W₁, W₂), final (S₁, S₂), the cap σ (BH, N, b) when capped, and
    (``store_states``: without y) every chunk's start (W₁, S₁, W₂, S₂). States (BH, d_l, d_{l+1}) float32."""
    q, k, v, root = tokens
    (w1, w2), (s1, s2) = weights, momentum
    bh, length = q.shape[:2]
    n_chunks = length // chunk
    y = w1 if store_states else torch.empty_like(v)
    scale = w1 if root is None else w1.new_empty(bh, n_chunks, chunk)
    w1_out, s1_out, w2_out, s2_out = (torch.empty_like(w) for w in (w1, s1, w2, s2))
    states = tuple(w.new_empty(bh, n_chunks, *w.shape[1:]) if store_states else w for w in (w1, s1, w2, s2))
    _mlp_fwd_kernel[(bh,)](
        q,
        k,
        v,
        w1 if root is None else root,
        y,
        scale,
        *coefficients,
        w1,
        s1,
        w2,
        s2,
        w1_out,
        s1_out,
        w2_out,
        s2_out,
        *states,
        length,
        n_chunks,
        chunk,
        STEP_CAP,
        **_shape(q, w1, w2, chunk),
        CAP=root is not None,
        STORE_Y=not store_states,
        STORE_STATES=store_states,
        PRECISION=dot_precision(),
        num_warps=8,
    )
    return y, (w1_out, w2_out), (s1_out, s2_out), scale, (states if store_states else ())


def mlp_forward(
    tokens: MlpTokens,
    coefficients: GateTerms,
    weights: tuple[Tensor, Tensor],
    momentum: tuple[Tensor, Tensor],
    chunk: int,
) -> tuple[Tensor, tuple[Tensor, Tensor], tuple[Tensor, Tensor], tuple[Tensor, ...]]:
    """y (BH, T, d_v), final (W₁, W₂), final (S₁, S₂), and what the backward keeps: (σ,) when capped."""
    y, weights_t, momentum_t, scale, _ = _launch_forward(tokens, coefficients, weights, momentum, chunk, False)
    return y, weights_t, momentum_t, (() if tokens[3] is None else (scale,))


def mlp_backward(
    tokens: MlpTokens,
    coefficients: GateTerms,
    weights: tuple[Tensor, Tensor],
    momentum: tuple[Tensor, Tensor],
    chunk: int,
    dy: Tensor,
    d_weights: tuple[Tensor, Tensor],
    d_momentum: tuple[Tensor, Tensor],
    scale: Tensor | None = None,
) -> tuple[tuple[Tensor | None, ...], GateTerms, tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """Gradients of (y, final weights, final momenta) → (dq, dk, dv, None), d(coefficients), dW_0, dS_0, with the
    forward's step cap σ (``scale``) held constant."""
    q, k, v, _ = tokens
    if scale is not None:
        coefficients = coefficients.scale_writes(scale)
    *_, states = _launch_forward((q, k, v, None), coefficients, weights, momentum, chunk, True)
    (w1, w2), (s1, s2) = weights, momentum
    bh, length = q.shape[:2]
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    d_coefficients = GateTerms(*(torch.empty_like(c) for c in coefficients))
    dw1_0, ds1_0, dw2_0, ds2_0 = (torch.empty_like(w) for w in (w1, s1, w2, s2))
    _mlp_bwd_kernel[(bh,)](
        q,
        k,
        v,
        dy,
        *coefficients,
        *states,
        d_weights[0],
        d_momentum[0],
        d_weights[1],
        d_momentum[1],
        dq,
        dk,
        dv,
        *d_coefficients,
        dw1_0,
        ds1_0,
        dw2_0,
        ds2_0,
        length,
        length // chunk,
        chunk,
        **_shape(q, w1, w2, chunk),
        PRECISION=dot_precision(),
        num_warps=8,
    )
    if scale is not None:
        d_coefficients = d_coefficients.scale_writes(scale)
    return (dq, dk, dv, None), d_coefficients, (dw1_0, dw2_0), (ds1_0, ds2_0)
