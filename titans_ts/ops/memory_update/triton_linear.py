"""Triton kernels of the linear matrix memory (L_M = 1), forward and backward, one chunk of b tokens per step.

With row vectors, M(x) = x W. From the chunk-start weights W and momentum S, per chunk:

    Δ = K_W W + K_S S − V'                             errors of the chunk's writes u_s = k_s^T Δ_s
    Y = β ⊙ (Q W) + g ⊙ (Q S) − ((Q K^T) ⊙ C) Δ        reads after each token's write (Eq. 15)
    W' = β_L W + g_L S − K^T (c ⊙ Δ)                   end of the chunk (Eq. 14)
    S' = E_L S − K^T (f ⊙ Δ)                           (Eq. 13)

K_W, K_S, V' are the error terms of ``coefficients`` (the exact per-token rule's triangular solve, or Eq. 16's
K_W = 2K, V' = 2V without a K_S term), computed in PyTorch so that autograd carries their gradients to k, v and
the gates. C, β, g are the momentum and decay scans of ``coefficients.chunk_coefficients``; c and f are the rows of
C and F·diag(θ) at the chunk's last token, and β_L, g_L, E_L the scalars there. One program owns a (batch·head,
value-column block) pair and walks the chunks in order carrying W and S in registers (the columns of W, S and Δ
evolve independently).

The backward recomputes the chunk-start states with the forward kernel (``store_states``), then walks the chunks
in reverse, carrying dW and dS:

    dΔ = −((Q K^T) ⊙ C)^T dY − c ⊙ (K dW') − f ⊙ (K dS')
    dK_W = dΔ W^T,  dK_S = dΔ S^T,  dV' = −dΔ
    dW = β_L dW' + Q^T (β ⊙ dY) + K_W^T dΔ,  dS = g_L dW' + E_L dS' + Q^T (g ⊙ dY) + K_S^T dΔ

Gradients that sum over value columns (dQ, dK, dK_W, dK_S, the coefficients) are written per column block and
summed afterwards.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import triton
import triton.language as tl
from torch import Tensor


class GateTerms(NamedTuple):
    """Per chunk n of every sequence (leading axes B·H, N): the gate terms the kernels read, all float32."""

    write: Tensor  # C: (BH, N, b, b), weight of u_s in W_t
    weight_carry: Tensor  # β: (BH, N, b)
    momentum_into_weights: Tensor  # g: (BH, N, b)
    last_write: Tensor  # c: (BH, N, b), row of C at the chunk's last token
    last_momentum_write: Tensor  # f: (BH, N, b), row of F·diag(θ) at the chunk's last token
    last_carries: Tensor  # (β_L, g_L, E_L): (BH, N, 3)

    def scale_writes(self, scale: Tensor) -> GateTerms:
        """Row t of C times σ_t, c and f times σ at the chunk's last token (σ: (BH, N, b)): the depth ≥ 2 step cap
        on the gate terms, and (the map being linear in them) on their gradients."""
        last = scale[..., -1:]
        return self._replace(
            write=self.write * scale.unsqueeze(-1),
            last_write=self.last_write * last,
            last_momentum_write=self.last_momentum_write * last,
        )


def _block(d: int) -> int:
    """A power-of-two block ≥ 16 (the smallest ``tl.dot`` operand) that covers d."""
    return max(16, triton.next_power_of_2(d))


def _launch_config(d_k: int, d_v: int, backward: bool) -> tuple[int, int]:
    """(value columns per program, warps): sizes at which the kernels compile for sm_90 with few or no spills.

    The backward carries dW and dS besides the recomputed W and S, so it takes more warps; the choice is to be
    re-measured on the GPU (bench/kernels.py).
    """
    wide = _block(d_k) > 64
    return min(_block(d_v), 16 if backward and wide else 32), 8 if backward or wide else 4


def dot_precision() -> str:
    """tl.dot precision for float32 operands, after ``torch.set_float32_matmul_precision``: "highest" (torch's
    default) takes 3xTF32 (float32 accuracy on tensor cores), "high" and "medium" take TF32."""
    return "tf32x3" if torch.get_float32_matmul_precision() == "highest" else "tf32"


@triton.jit
def _load_rows(ptr, rows, mask_rows, cols, mask_cols, width):
    """A (rows × cols) tile of a row-major matrix of ``width`` columns, as float32, zero outside the masks."""
    return tl.load(
        ptr + rows[:, None] * width + cols[None, :], mask=mask_rows[:, None] & mask_cols[None, :], other=0.0
    ).to(tl.float32)


@triton.jit
def _load_tokens(q, k, v, i_bh, t, m_t, o_k, m_k, o_v, m_v, T, DK, DV):
    """Rows t of q, k (BT × BK) and v (BT × BV) of sequence-head i_bh, as float32."""
    b_q = _load_rows(q + i_bh * T * DK, t, m_t, o_k, m_k, DK)
    b_k = _load_rows(k + i_bh * T * DK, t, m_t, o_k, m_k, DK)
    return b_q, b_k, _load_rows(v + i_bh * T * DV, t, m_t, o_v, m_v, DV)


@triton.jit
def _load_gate_terms(coef, beta, gain, c_end, f_end, ends, chunk, CHUNK, o_t, m_c):
    """The gate terms of one chunk: C (BT × BT), β, g, c, f (BT) and the scalars β_L, g_L, E_L."""
    b_c = _load_rows(coef + chunk * CHUNK * CHUNK, o_t, m_c, o_t, m_c, CHUNK)
    p_vec = chunk * CHUNK + o_t
    b_beta = tl.load(beta + p_vec, mask=m_c, other=0.0)
    b_gain = tl.load(gain + p_vec, mask=m_c, other=0.0)
    b_cl = tl.load(c_end + p_vec, mask=m_c, other=0.0)
    b_fl = tl.load(f_end + p_vec, mask=m_c, other=0.0)
    p_end = ends + chunk * 3
    return b_c, b_beta, b_gain, b_cl, b_fl, tl.load(p_end), tl.load(p_end + 1), tl.load(p_end + 2)


@triton.jit
def _linear_fwd_kernel(
    q,
    k,
    k_w,
    k_s,
    v_err,
    y,
    coef,
    beta,
    gain,
    c_end,
    f_end,
    ends,
    w0,
    s0,
    w_out,
    s_out,
    w_states,
    s_states,
    T,
    N,
    CHUNK,
    DK: tl.constexpr,
    DV: tl.constexpr,
    BK: tl.constexpr,
    BV: tl.constexpr,
    BT: tl.constexpr,
    HAS_KS: tl.constexpr,
    STORE_Y: tl.constexpr,
    STORE_STATES: tl.constexpr,
    PRECISION: tl.constexpr,
):
    i_bh, i_v = tl.program_id(0).to(tl.int64), tl.program_id(1)
    o_t, o_k, o_v = tl.arange(0, BT), tl.arange(0, BK), i_v * BV + tl.arange(0, BV)
    m_c, m_k, m_v = o_t < CHUNK, o_k < DK, o_v < DV
    m_state = m_k[:, None] & m_v[None, :]
    p_state = o_k[:, None] * DV + o_v[None, :]
    state = i_bh * DK * DV
    b_w = _load_rows(w0 + state, o_k, m_k, o_v, m_v, DV)
    b_s = _load_rows(s0 + state, o_k, m_k, o_v, m_v, DV)
    for n in range(N):
        t = n * CHUNK + o_t
        b_q, b_k, b_v = _load_tokens(q, k, v_err, i_bh, t, m_c, o_k, m_k, o_v, m_v, T, DK, DV)
        chunk = i_bh * N + n
        if STORE_STATES:
            tl.store(w_states + chunk * DK * DV + p_state, b_w, mask=m_state)
            tl.store(s_states + chunk * DK * DV + p_state, b_s, mask=m_state)
        b_c, b_beta, b_gain, b_cl, b_fl, beta_l, gain_l, carry_l = _load_gate_terms(
            coef, beta, gain, c_end, f_end, ends, chunk, CHUNK, o_t, m_c
        )
        b_kw = _load_rows(k_w + i_bh * T * DK, t, m_c, o_k, m_k, DK)
        b_delta = tl.dot(b_kw, b_w, input_precision=PRECISION) - b_v
        if HAS_KS:
            b_ks = _load_rows(k_s + i_bh * T * DK, t, m_c, o_k, m_k, DK)
            b_delta += tl.dot(b_ks, b_s, input_precision=PRECISION)
        if STORE_Y:
            b_a = tl.dot(b_q, tl.trans(b_k), input_precision=PRECISION) * b_c
            b_y = (
                b_beta[:, None] * tl.dot(b_q, b_w, input_precision=PRECISION)
                + b_gain[:, None] * tl.dot(b_q, b_s, input_precision=PRECISION)
                - tl.dot(b_a, b_delta, input_precision=PRECISION)
            )
            tl.store(
                y + i_bh * T * DV + t[:, None] * DV + o_v[None, :],
                b_y.to(y.dtype.element_ty),
                mask=m_c[:, None] & m_v[None, :],
            )
        b_w = beta_l * b_w + gain_l * b_s - tl.dot(tl.trans(b_k), b_cl[:, None] * b_delta, input_precision=PRECISION)
        b_s = carry_l * b_s - tl.dot(tl.trans(b_k), b_fl[:, None] * b_delta, input_precision=PRECISION)
    tl.store(w_out + state + p_state, b_w, mask=m_state)
    tl.store(s_out + state + p_state, b_s, mask=m_state)


@triton.jit
def _linear_bwd_kernel(
    q,
    k,
    k_w,
    k_s,
    v_err,
    dy,
    coef,
    beta,
    gain,
    c_end,
    f_end,
    ends,
    w_states,
    s_states,
    dw_out,
    ds_out,
    dq,
    dk,
    dk_w,
    dk_s,
    dv_err,
    dcoef,
    dbeta,
    dgain,
    dc_end,
    df_end,
    dends,
    dw0,
    ds0,
    T,
    N,
    CHUNK,
    BH,
    DK: tl.constexpr,
    DV: tl.constexpr,
    BK: tl.constexpr,
    BV: tl.constexpr,
    BT: tl.constexpr,
    HAS_KS: tl.constexpr,
    PRECISION: tl.constexpr,
):
    i_bh, i_v = tl.program_id(0).to(tl.int64), tl.program_id(1)
    o_t, o_k, o_v = tl.arange(0, BT), tl.arange(0, BK), i_v * BV + tl.arange(0, BV)
    m_c, m_k, m_v = o_t < CHUNK, o_k < DK, o_v < DV
    m_state = m_k[:, None] & m_v[None, :]
    p_state = o_k[:, None] * DV + o_v[None, :]
    state = i_bh * DK * DV
    part = i_v * BH + i_bh  # this program's slice of the per-column-block partial sums
    b_dw = _load_rows(dw_out + state, o_k, m_k, o_v, m_v, DV)
    b_ds = _load_rows(ds_out + state, o_k, m_k, o_v, m_v, DV)
    for i in range(N):
        n = N - 1 - i
        t = n * CHUNK + o_t
        chunk = i_bh * N + n
        b_q, b_k, b_v = _load_tokens(q, k, v_err, i_bh, t, m_c, o_k, m_k, o_v, m_v, T, DK, DV)
        b_kw = _load_rows(k_w + i_bh * T * DK, t, m_c, o_k, m_k, DK)
        b_dy = _load_rows(dy + i_bh * T * DV, t, m_c, o_v, m_v, DV)
        b_c, b_beta, b_gain, b_cl, b_fl, beta_l, gain_l, carry_l = _load_gate_terms(
            coef, beta, gain, c_end, f_end, ends, chunk, CHUNK, o_t, m_c
        )
        b_w = tl.load(w_states + chunk * DK * DV + p_state, mask=m_state, other=0.0)
        b_s = tl.load(s_states + chunk * DK * DV + p_state, mask=m_state, other=0.0)

        b_p = tl.dot(b_q, tl.trans(b_k), input_precision=PRECISION)
        b_delta = tl.dot(b_kw, b_w, input_precision=PRECISION) - b_v
        if HAS_KS:
            b_ks = _load_rows(k_s + i_bh * T * DK, t, m_c, o_k, m_k, DK)
            b_delta += tl.dot(b_ks, b_s, input_precision=PRECISION)
        b_kdw = tl.dot(b_k, b_dw, input_precision=PRECISION)
        b_kds = tl.dot(b_k, b_ds, input_precision=PRECISION)
        b_ddelta = (
            -tl.dot(tl.trans(b_p * b_c), b_dy, input_precision=PRECISION)
            - b_cl[:, None] * b_kdw
            - b_fl[:, None] * b_kds
        )
        b_da = -tl.dot(b_dy, tl.trans(b_delta), input_precision=PRECISION)
        m_cc = m_c[:, None] & m_c[None, :]
        p_cc = (part * N + n) * CHUNK * CHUNK + o_t[:, None] * CHUNK + o_t[None, :]
        tl.store(dcoef + p_cc, tl.where(o_t[:, None] >= o_t[None, :], b_da * b_p, 0.0), mask=m_cc)
        b_dp = b_da * b_c

        p_vec = (part * N + n) * CHUNK + o_t
        tl.store(dbeta + p_vec, tl.sum(b_dy * tl.dot(b_q, b_w, input_precision=PRECISION), 1), mask=m_c)
        tl.store(dgain + p_vec, tl.sum(b_dy * tl.dot(b_q, b_s, input_precision=PRECISION), 1), mask=m_c)
        tl.store(dc_end + p_vec, -tl.sum(b_delta * b_kdw, 1), mask=m_c)
        tl.store(df_end + p_vec, -tl.sum(b_delta * b_kds, 1), mask=m_c)
        p_ends = (part * N + n) * 3
        tl.store(dends + p_ends, tl.sum(tl.sum(b_dw * b_w, 1), 0))
        tl.store(dends + p_ends + 1, tl.sum(tl.sum(b_dw * b_s, 1), 0))
        tl.store(dends + p_ends + 2, tl.sum(tl.sum(b_ds * b_s, 1), 0))

        b_dyb, b_dyg = b_beta[:, None] * b_dy, b_gain[:, None] * b_dy
        b_dq = (
            tl.dot(b_dp, b_k, input_precision=PRECISION)
            + tl.dot(b_dyb, tl.trans(b_w), input_precision=PRECISION)
            + tl.dot(b_dyg, tl.trans(b_s), input_precision=PRECISION)
        )
        b_dk = (
            tl.dot(tl.trans(b_dp), b_q, input_precision=PRECISION)
            - tl.dot(b_cl[:, None] * b_delta, tl.trans(b_dw), input_precision=PRECISION)
            - tl.dot(b_fl[:, None] * b_delta, tl.trans(b_ds), input_precision=PRECISION)
        )
        m_tk = m_c[:, None] & m_k[None, :]
        p_tk = (part * T + t[:, None]) * DK + o_k[None, :]
        tl.store(dq + p_tk, b_dq, mask=m_tk)
        tl.store(dk + p_tk, b_dk, mask=m_tk)
        tl.store(dk_w + p_tk, tl.dot(b_ddelta, tl.trans(b_w), input_precision=PRECISION), mask=m_tk)
        tl.store(dv_err + (i_bh * T + t[:, None]) * DV + o_v[None, :], -b_ddelta, mask=m_c[:, None] & m_v[None, :])

        b_dw_start = (
            beta_l * b_dw
            + tl.dot(tl.trans(b_q), b_dyb, input_precision=PRECISION)
            + tl.dot(tl.trans(b_kw), b_ddelta, input_precision=PRECISION)
        )
        b_ds = gain_l * b_dw + carry_l * b_ds + tl.dot(tl.trans(b_q), b_dyg, input_precision=PRECISION)
        if HAS_KS:
            tl.store(dk_s + p_tk, tl.dot(b_ddelta, tl.trans(b_s), input_precision=PRECISION), mask=m_tk)
            b_ds += tl.dot(tl.trans(b_ks), b_ddelta, input_precision=PRECISION)
        b_dw = b_dw_start
    tl.store(dw0 + state + p_state, b_dw, mask=m_state)
    tl.store(ds0 + state + p_state, b_ds, mask=m_state)


LinearTokens = tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor]
"""What the kernels read per token, flattened to (BH, T, d): q, k (any float dtype), and the float32 error terms
K_W, K_S (None: Eq. 16, no momentum term), V'."""


def _launch_shape(tokens: LinearTokens, chunk: int) -> tuple[int, int, int, int, int, int, int]:
    """(BH, T, N, d_k, d_v, BK, BT) of the flattened tokens (T a multiple of the chunk)."""
    q, v_err = tokens[0], tokens[-1]
    bh, length, d_k = q.shape
    return bh, length, length // chunk, d_k, v_err.shape[-1], _block(d_k), _block(chunk)


def _error_pointers(tokens: LinearTokens) -> tuple[Tensor, ...]:
    """(q, k, K_W, K_S, V') for a launch: K_W stands in for a missing K_S, which the kernels then never read."""
    q, k, k_w, k_s, v_err = tokens
    return q, k, k_w, k_w if k_s is None else k_s, v_err


def _launch_forward(
    tokens: LinearTokens,
    coefficients: GateTerms,
    weights: tuple[Tensor],
    momentum: tuple[Tensor],
    chunk: int,
    store_states: bool,
) -> tuple[Tensor, tuple[Tensor], tuple[Tensor], tuple[Tensor, ...]]:
    """y (BH, T, d_v) in q's dtype, final (W,), final (S,), and (``store_states``: without y) every chunk's start
    (W, S), (BH, N, d_k, d_v) each. W, S (BH, d_k, d_v) float32."""
    (w0,), (s0,) = weights, momentum
    bh, length, n_chunks, d_k, d_v, bk, bt = _launch_shape(tokens, chunk)
    bv, warps = _launch_config(d_k, d_v, backward=False)
    q = tokens[0]
    y = w0 if store_states else q.new_empty(bh, length, d_v)
    w_out, s_out = torch.empty_like(w0), torch.empty_like(s0)
    states = tuple(w0.new_empty(bh, n_chunks, d_k, d_v) if store_states else w0 for _ in range(2))
    _linear_fwd_kernel[(bh, triton.cdiv(d_v, bv))](
        *_error_pointers(tokens),
        y,
        *coefficients,
        w0,
        s0,
        w_out,
        s_out,
        *states,
        length,
        n_chunks,
        chunk,
        DK=d_k,
        DV=d_v,
        BK=bk,
        BV=bv,
        BT=bt,
        HAS_KS=tokens[3] is not None,
        STORE_Y=not store_states,
        STORE_STATES=store_states,
        PRECISION=dot_precision(),
        num_warps=warps,
    )
    return y, (w_out,), (s_out,), (states if store_states else ())


def linear_forward(
    tokens: LinearTokens, coefficients: GateTerms, weights: tuple[Tensor], momentum: tuple[Tensor], chunk: int
) -> tuple[Tensor, tuple[Tensor], tuple[Tensor], tuple[Tensor, ...]]:
    """y (BH, T, d_v) in q's dtype, final (W,), final (S,), and nothing more for the backward to keep."""
    y, weights_t, momentum_t, _ = _launch_forward(tokens, coefficients, weights, momentum, chunk, False)
    return y, weights_t, momentum_t, ()


def linear_backward(
    tokens: LinearTokens,
    coefficients: GateTerms,
    weights: tuple[Tensor],
    momentum: tuple[Tensor],
    chunk: int,
    dy: Tensor,
    d_weights: tuple[Tensor],
    d_momentum: tuple[Tensor],
) -> tuple[tuple[Tensor | None, ...], GateTerms, tuple[Tensor], tuple[Tensor]]:
    """Gradients of (y, final weights, final momenta) → (dq, dk, dK_W, dK_S, dV'), d(coefficients), dW_0, dS_0."""
    (w0,), (s0,) = weights, momentum
    bh, length, n_chunks, d_k, d_v, bk, bt = _launch_shape(tokens, chunk)
    bv, warps = _launch_config(d_k, d_v, backward=True)
    *_, states = _launch_forward(tokens, coefficients, weights, momentum, chunk, True)
    n_v = triton.cdiv(d_v, bv)
    q, k, _, k_s, v_err = tokens
    dq, dk, dk_w = (w0.new_empty(n_v, bh, length, d_k) for _ in range(3))
    dk_s = dk_w if k_s is None else torch.empty_like(dk_w)
    dv_err = torch.empty_like(v_err)
    dcoef = w0.new_empty(n_v, bh, n_chunks, chunk, chunk)
    dbeta, dgain, dc_end, df_end = (w0.new_empty(n_v, bh, n_chunks, chunk) for _ in range(4))
    dends = w0.new_empty(n_v, bh, n_chunks, 3)
    dw0, ds0 = torch.empty_like(w0), torch.empty_like(s0)
    _linear_bwd_kernel[(bh, n_v)](
        *_error_pointers(tokens),
        dy,
        *coefficients,
        *states,
        *d_weights,
        *d_momentum,
        dq,
        dk,
        dk_w,
        dk_s,
        dv_err,
        dcoef,
        dbeta,
        dgain,
        dc_end,
        df_end,
        dends,
        dw0,
        ds0,
        length,
        n_chunks,
        chunk,
        bh,
        DK=d_k,
        DV=d_v,
        BK=bk,
        BV=bv,
        BT=bt,
        HAS_KS=k_s is not None,
        PRECISION=dot_precision(),
        num_warps=warps,
    )
    d_coefficients = GateTerms(*(g.sum(0) for g in (dcoef, dbeta, dgain, dc_end, df_end, dends)))
    d_tokens = (dq.sum(0).to(q.dtype), dk.sum(0).to(k.dtype), dk_w.sum(0), None if k_s is None else dk_s.sum(0), dv_err)
    return d_tokens, d_coefficients, (dw0,), (ds0,)
