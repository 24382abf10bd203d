"""Forward and forward+backward time of the memory-update kernels on a GPU, against the PyTorch paths (issue 6).

Paths, each at B sequences of T tokens, H heads of width d_head, memory depth L_M and chunk size b:

- ``triton``, ``chunked``: our memory-update op alone (``memory_update`` with that backend) on q, k, v, gates
  and state of the right shapes;
- ``triton-layer``, ``chunked-layer``: our whole ``NeuralMemory`` layer (projections, convolution, gates, output
  norm and gate) with that backend, d_model = H·d_head;
- ``titans-pytorch``: lucidrains' ``NeuralMemory`` layer at the same dims (compare with the ``-layer`` paths);
- ``fla``: flash-linear-attention's ``chunk_gated_delta_rule`` (depth 1 only), the nearest relative of the
  linear memory (no momentum; its gradient is taken at every token's weights).

"fwd" runs under ``torch.no_grad``; "fwd+bwd" back-propagates the sum of the outputs to every input and
parameter. Paths are timed in rotation, the median over ``--repeats`` is reported with tokens/s = B·T / median and
the peak GPU memory of one step above what was allocated before it.

Floors, per token and head, with d = d_head, h = expansion·d, elements of e bytes (the op's inputs):
forward FLOPs 10 d² + 4 b d (L_M = 1) and 22 d h + 4 b (d + h) (L_M = 2): the state products, the intra-chunk
b×b terms and the state update; fwd+bwd counts 3× forward (no recompute). Bytes: forward reads q, k, v and writes
y, 4 d e, plus 3 float32 gates; fwd+bwd adds dy read and dq, dk, dv written, 8 d e, plus 3 gate gradients. The
floor is max(FLOPs / --peak-tflops, bytes / --peak-gbps); "floor %" is floor / measured median of the op paths.

    python bench/kernels.py --help
    python bench/kernels.py --markdown BENCHMARKS.md          # the issue's shapes, on the GPU
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing titans-ts
from memory_speed import machine_lines, package_version, sync, time_paths, titans_pytorch_skip_reason  # noqa: E402

from titans_ts.memory import NeuralMemory  # noqa: E402
from titans_ts.ops.memory_update import BACKENDS, UPDATE_RULES, MemoryOpState, memory_update  # noqa: E402

PATHS = ("triton", "chunked", "triton-layer", "chunked-layer", "titans-pytorch", "fla")
MODES = ("fwd", "fwd+bwd")
DEVICE = "cuda"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=8, help="B, sequences per step (default 8)")
    p.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384], help="T (default 1024 4096 16384)")
    p.add_argument("--heads", type=int, default=8, help="H (default 8)")
    p.add_argument("--d-head", type=int, default=64, help="d_head (default 64)")
    p.add_argument("--depth", type=int, nargs="+", default=[1, 2], help="memory depths L_M (default 1 2)")
    p.add_argument("--expansion", type=int, default=2, help="hidden width of a deep memory / d_head (default 2)")
    p.add_argument("--chunk-size", type=int, default=16, help="b (default 16)")
    p.add_argument("--update", choices=UPDATE_RULES, default="stable",
                   help="memory update rule of our paths (default stable; minibatch = the paper's Eq. 16)")
    p.add_argument("--dtype", choices=DTYPES, default="bfloat16",
                   help="dtype of q, k, v and of the layers' activations (autocast); state float32 (default bfloat16)")
    p.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS), help="paths to measure (default all)")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES), help="default fwd fwd+bwd")
    p.add_argument("--repeats", type=int, default=10, help="timed steps per path, shape and mode (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first, compilation included (default 3)")
    p.add_argument("--peak-tflops", type=float, default=494.7,
                   help="FLOP/s of the floor, in TFLOP/s (default 494.7: H100 SXM dense TF32)")
    p.add_argument("--peak-gbps", type=float, default=3350.0,
                   help="memory bandwidth of the floor, in GB/s (default 3350: H100 SXM HBM3)")
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed of the inputs and weights")
    p.add_argument("--markdown", metavar="PATH", help="append a section (machine, date, command, table) here")
    return p.parse_args(argv)


def floors(args: argparse.Namespace, depth: int, length: int, mode: str) -> tuple[float, float]:
    """(FLOPs, bytes) that the op cannot do without, for the whole batch (see the module docstring)."""
    d, h, b = args.d_head, args.expansion * args.d_head, args.chunk_size
    per_token = 10 * d * d + 4 * b * d if depth == 1 else 22 * d * h + 4 * b * (d + h)
    e = DTYPES[args.dtype].itemsize
    tokens = args.batch * args.heads * length
    if mode == "fwd":
        return tokens * per_token, tokens * (4 * d * e + 3 * 4)
    return 3 * tokens * per_token, tokens * (12 * d * e + 6 * 4)


def skip_reason(path: str, depth: int) -> str | None:
    if path.startswith("triton") and "triton" not in BACKENDS:
        return "triton backend not registered"
    if path == "titans-pytorch":
        return titans_pytorch_skip_reason()
    if path == "fla":
        if depth != 1:
            return "fla's gated delta rule is a depth-1 memory"
        try:
            import fla.ops.gated_delta_rule  # noqa: F401
        except Exception as e:
            return f"fla not importable ({type(e).__name__}: {e}); pip install flash-linear-attention"
    return None


def op_step(path: str, args: argparse.Namespace, depth: int, length: int, backward: bool) -> Callable[[], None]:
    """One call of our memory-update op (backend ``path``) on random inputs of the benchmark's shape."""
    shape, dtype = (args.batch, args.heads, length), DTYPES[args.dtype]
    q, k = (F.normalize(torch.randn(*shape, args.d_head, device=DEVICE), dim=-1).to(dtype) for _ in range(2))
    v = torch.randn(*shape, args.d_head, device=DEVICE, dtype=dtype)
    gates = [torch.rand(*shape, device=DEVICE) * s for s in (0.1, 1.0, 0.05)]
    widths = [args.d_head] + [args.expansion * args.d_head] * (depth - 1) + [args.d_head]
    weights = tuple(torch.randn(args.batch, args.heads, i, o, device=DEVICE) / i**0.5
                    for i, o in zip(widths[:-1], widths[1:]))
    momentum = tuple(torch.zeros_like(w) for w in weights)
    leaves = [q, k, v, *gates, *weights]
    for x in leaves:
        x.requires_grad_(backward)

    def step() -> None:
        state = MemoryOpState.at_chunk_start(weights, momentum)
        with torch.set_grad_enabled(backward):
            y, _ = memory_update(q, k, v, *gates, state, args.chunk_size, path, args.update)
        if backward:
            for x in leaves:
                x.grad = None
            y.float().sum().backward()

    return step


def layer_step(path: str, args: argparse.Namespace, depth: int, length: int, backward: bool) -> Callable[[], None]:
    """One call of a whole memory layer (ours with a backend, or titans-pytorch's) on x of shape (B, T, H·d_head)."""
    d_model = args.heads * args.d_head
    if path == "titans-pytorch":
        from titans_pytorch import MemoryMLP
        from titans_pytorch import NeuralMemory as TitansPytorchMemory

        layer = TitansPytorchMemory(dim=d_model, chunk_size=args.chunk_size, heads=args.heads, dim_head=args.d_head,
                                    model=MemoryMLP(args.d_head, depth, expansion_factor=args.expansion),
                                    mem_model_norm_add_residual=False)
    else:
        layer = NeuralMemory(d_model, args.heads, d_head=args.d_head, depth=depth, expansion=args.expansion,
                             chunk_size=args.chunk_size, update=args.update, backend=path.removesuffix("-layer"))
    layer = layer.to(DEVICE)
    x = torch.randn(args.batch, length, d_model, device=DEVICE, requires_grad=backward)
    dtype = DTYPES[args.dtype]

    def step() -> None:
        with torch.set_grad_enabled(backward), torch.autocast(DEVICE, dtype, enabled=dtype != torch.float32):
            y = layer(x)[0]
        if backward:
            layer.zero_grad(set_to_none=True)
            x.grad = None
            y.float().sum().backward()

    return step


def fla_step(args: argparse.Namespace, length: int, backward: bool) -> Callable[[], None]:
    """flash-linear-attention's chunk_gated_delta_rule on (B, T, H, d) inputs: S ← e^g S + β k^T (v − k S)."""
    from fla.ops.gated_delta_rule import chunk_gated_delta_rule

    shape, dtype = (args.batch, length, args.heads), DTYPES[args.dtype]
    q, k = (F.normalize(torch.randn(*shape, args.d_head, device=DEVICE), dim=-1).to(dtype) for _ in range(2))
    v = torch.randn(*shape, args.d_head, device=DEVICE, dtype=dtype)
    g = F.logsigmoid(torch.randn(*shape, device=DEVICE) + 4)
    beta = torch.rand(*shape, device=DEVICE, dtype=dtype)
    h0 = torch.zeros(args.batch, args.heads, args.d_head, args.d_head, device=DEVICE)
    leaves = [q, k, v, g, beta, h0]
    for x in leaves:
        x.requires_grad_(backward)

    def step() -> None:
        with torch.set_grad_enabled(backward):
            y, _ = chunk_gated_delta_rule(q, k, v, g, beta, initial_state=h0, output_final_state=True)
        if backward:
            for x in leaves:
                x.grad = None
            y.float().sum().backward()

    return step


def make_step(path: str, args: argparse.Namespace, depth: int, length: int, backward: bool) -> Callable[[], None]:
    if path in ("triton", "chunked"):
        return op_step(path, args, depth, length, backward)
    if path == "fla":
        return fla_step(args, length, backward)
    return layer_step(path, args, depth, length, backward)


def peak_memory(step: Callable[[], None]) -> float:
    """GiB allocated at the peak of one step, above what was allocated before it."""
    sync(torch.device(DEVICE))
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    step()
    sync(torch.device(DEVICE))
    return (torch.cuda.max_memory_allocated() - before) / 2**30


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("bench/kernels.py measures GPU kernels and needs CUDA: torch.cuda.is_available() is False. "
                         "Without a GPU the kernels are checked by tests/test_memory_triton.py (Triton interpreter).")
    device = torch.device(DEVICE)
    command = "python " + " ".join(shlex.quote(a) for a in ([os.path.relpath(sys.argv[0])] + sys.argv[1:]))
    header = machine_lines(device) + [f"flash-linear-attention {package_version('flash-linear-attention')}, "
                                      f"triton {package_version('triton')}, "
                                      f"float32 matmul precision {torch.get_float32_matmul_precision()}"]
    shapes = (f"B={args.batch}, H={args.heads}, d_head={args.d_head}, expansion={args.expansion}, "
              f"b={args.chunk_size}, {args.dtype} inputs, float32 state; "
              f"median of {args.repeats} (warmup {args.warmup})")
    print("\n".join(header), f"command: {command}", shapes, sep="\n")

    table = ["| depth | T | mode | path | tok/s | median ms | min ms | peak GiB | floor ms | floor % |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for depth in args.depth:
        for length in args.lengths:
            for mode in args.modes:
                torch.manual_seed(args.seed)
                flops, moved = floors(args, depth, length, mode)
                floor = max(flops / (args.peak_tflops * 1e12), moved / (args.peak_gbps * 1e9))
                steps, cells, memory = {}, {}, {}
                for path in args.paths:
                    if why := skip_reason(path, depth):
                        cells[path] = f"skipped: {why}"
                        continue
                    try:
                        steps[path] = make_step(path, args, depth, length, mode == "fwd+bwd")
                        memory[path] = peak_memory(steps[path])
                    except Exception as e:  # out of memory at a long T, say: report it, keep the other paths
                        steps.pop(path, None)
                        cells[path] = f"error: {type(e).__name__}: {str(e).splitlines()[0][:100]}"
                        torch.cuda.empty_cache()
                cells.update(time_paths(steps, args.repeats, args.warmup, device))
                for path in args.paths:
                    cell = cells[path]
                    if isinstance(cell, str):
                        row = f"| {depth} | {length} | {mode} | {path} | {cell} | | | | | |"
                    else:
                        median, fastest = cell
                        share = f"{100 * floor / median:.1f}" if path in ("triton", "chunked", "fla") else "—"
                        row = (f"| {depth} | {length} | {mode} | {path} | {args.batch * length / median:,.0f} | "
                               f"{median * 1e3:.2f} | {fastest * 1e3:.2f} | {memory[path]:.2f} | {floor * 1e3:.3f} | "
                               f"{share} |")
                    table.append(row)
                    print(row, flush=True)
                del steps
                torch.cuda.empty_cache()

    if args.markdown:
        section = ["## Memory-update kernels (issue 6): CUDA", "", *[f"- {line}" for line in header],
                   f"- shapes: {shapes}", f"- command: `{command}`",
                   f"- floors: {args.peak_tflops} TFLOP/s, {args.peak_gbps} GB/s (see bench/kernels.py)", "",
                   *table, ""]
        with open(args.markdown, "a") as f:
            f.write("\n".join(section) + "\n")
        print(f"appended to {args.markdown}")


if __name__ == "__main__":
    main()
