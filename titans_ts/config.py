"""``TitansConfig``: every hyperparameter of a Titans backbone in one dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .mixers import MIXERS
from .ops.memory_update import BACKENDS
from .ops.memory_update.coefficients import UPDATE_RULES

VARIANTS: tuple[str, ...] = tuple(MIXERS)  # the mixer registry: add a variant there


@dataclass
class TitansConfig:
    """Configuration of ``Titans`` (§4) and its memories (§3); the defaults run on a CPU in seconds. Each field is
    described once, below (the command line's help text is read from here); ``choices`` in a field's metadata are
    its allowed values.

    variant:        "mac" memory as context (Eq. 21-25), "mag" memory as gate (Eq. 26-28),
                    "mal" memory as layer (Eq. 29-31), "lmm" neural memory alone.
    d_model:        width of the residual stream.
    n_layers:       number of blocks (each: mixer of the variant + SwiGLU feed-forward).
    n_heads:        heads of attention and of the memory.
    memory_depth:   L_M, layers of the memory MLP (1 = linear matrix memory; the paper favours ≥ 2).
    memory_expansion: hidden width of the memory MLP as a multiple of the head width.
    chunk_size:     b, tokens per mini-batch of the memory update (Eq. 16-18).
    segment_size:   MAC segment length C (Eq. 21).
    window:         sliding-window length of MAG and MAL attention.
    n_persistent:   N_p persistent memory tokens (Eq. 19).
    conv_size:      kernel of the memory's depthwise causal convolution (§4.4).
    gates:          "token" (θ, η, α per token) or "chunk" (per chunk, §3.2).
    learned_init:   learn M_0; otherwise M_0 is the zero function.
    theta_max:      upper bound of the memory learning rate θ_t.
    eta_max:        upper bound of the memory's momentum decay η_t.
    alpha_max:      upper bound of the memory's forgetting α_t (1: the paper's gate; lower keeps a memory carried over
                    a long stream from decaying toward 0).
    memory_update:  "stable" (exact per-token rule at depth 1, causal step cap at depth ≥ 2) or "minibatch"
                    (the paper's Eq. 16 as written); see ``ops.memory_update.coefficients``.
    ffn_mult:       hidden width of the feed-forward as a multiple of d_model.
    dropout:        dropout on the residual branches and attention weights.
    detach_state:   cut the memory state from the graph between MAC segments (truncated backprop).
    backend:        memory-update path: "auto", "chunked", "recurrent" (or "triton" when registered).
    """

    variant: str = field(default="mag", metadata={"choices": VARIANTS})
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    memory_depth: int = 2
    memory_expansion: int = 2
    chunk_size: int = 16
    segment_size: int = 32
    window: int = 32
    n_persistent: int = 4
    conv_size: int = 4
    gates: Literal["token", "chunk"] = "token"
    learned_init: bool = True
    theta_max: float = 0.1
    eta_max: float = 0.9
    alpha_max: float = 1.0
    memory_update: str = field(default="stable", metadata={"choices": UPDATE_RULES})
    ffn_mult: int = 4
    dropout: float = 0.0
    detach_state: bool = False
    backend: str = field(default="auto", metadata={"choices": ("auto", *BACKENDS)})

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {self.variant!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be a multiple of n_heads={self.n_heads}")
        for name in ("d_model", "n_layers", "n_heads", "memory_depth", "memory_expansion", "chunk_size",
                     "segment_size", "window", "conv_size", "ffn_mult"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1; got {getattr(self, name)}")
        if not (self.theta_max > 0 and 0 <= self.eta_max < 1):
            raise ValueError(f"theta_max must be > 0 and eta_max in [0, 1); got {self.theta_max}, {self.eta_max}")
        if not 0 < self.alpha_max <= 1:
            raise ValueError(f"alpha_max must be in (0, 1]; got {self.alpha_max}")
        if self.memory_update not in UPDATE_RULES:
            raise ValueError(f"memory_update must be one of {', '.join(UPDATE_RULES)}; got {self.memory_update!r}")
        if self.n_persistent < 0:
            raise ValueError(f"n_persistent must be ≥ 0; got {self.n_persistent}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field (for logging and config files)."""
        return asdict(self)
