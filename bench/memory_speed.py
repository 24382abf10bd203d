"""Tokens/s of one neural-memory layer, forward + backward, for our paths and for titans-pytorch (issue 2, item 6).

Every path is a whole layer at the same dims (d_model, heads, d_head = d_model / heads, chunk size, memory depth,
expansion factor): our ``titans_ts.memory.NeuralMemory`` with ``backend="recurrent"`` / ``"chunked"`` (and
``"triton"`` when that backend is registered), and titans-pytorch's ``NeuralMemory`` with a ``MemoryMLP`` of the
same depth and expansion. One step is ``y, _ = layer(x); y.sum().backward()`` on a fresh x of shape (B, T, d_model)
that requires grad, so the gradient flows to the input and to every parameter. The paths are timed in rotation
(one step of each path per repeat), so a change of machine load during the run hits them alike; tokens/s =
B·T / (median seconds per step) is reported, with the median and the fastest step in ms.

Equal dims are not equal algorithms: titans-pytorch (default ``batch_size=None``) takes every chunk's gradient at
the weights the call started with and pools the momentum and decay gates per chunk, while ours carries the
memory from chunk to chunk (each chunk's gradients at that chunk's start weights) with per-token gates. The
``titans-pytorch-per-chunk`` path (``batch_size=chunk_size``) makes titans-pytorch update its weights after
every chunk, the closest it comes to our recurrence. See bench/README.md.

    python bench/memory_speed.py                            # CPU defaults, < 3 min on 2 cores
    python bench/memory_speed.py --device cuda --batch 8 --lengths 1024 4096 16384 --markdown BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing titans-ts
from titans_ts.memory import NeuralMemory  # noqa: E402
from titans_ts.ops.memory_update import BACKENDS, UPDATE_RULES  # noqa: E402

OURS = ("recurrent", "chunked", "triton")
THEIRS = ("titans-pytorch", "titans-pytorch-per-chunk")
ALL_PATHS = OURS + THEIRS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Paths: recurrent = our token-by-token reference op; chunked = our chunkwise-parallel op; "
        "triton = our fused kernels (only when registered, CUDA only); titans-pytorch = lucidrains' NeuralMemory "
        "(pip install -e '.[bench]'), all chunk gradients at the call-start weights; titans-pytorch-per-chunk = "
        "the same with batch_size=chunk_size (weights updated after every chunk). A path that cannot run is "
        "skipped with the reason printed and written into the table.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto",
                   help="where to run; auto = cuda when torch.cuda.is_available(), else cpu")
    p.add_argument("--batch", type=int, default=4, help="B, sequences per step")
    p.add_argument("--lengths", type=int, nargs="+", default=[256, 1024], help="T, sequence lengths to measure")
    p.add_argument("--d-model", type=int, default=128, help="layer width d_model (input and output)")
    p.add_argument("--heads", type=int, default=4, help="memory heads H; d_head = d_model / H")
    p.add_argument("--depth", type=int, nargs="+", default=[1, 2],
                   help="memory MLP depths L_M to measure (1 = linear matrix memory)")
    p.add_argument("--expansion", type=int, default=2, help="hidden width of a deep memory, as a multiple of d_head")
    p.add_argument("--update", choices=UPDATE_RULES, default="stable",
                   help="our memory's update rule: stable (exact per-token at depth 1, capped chunks at depth 2) or "
                   "minibatch (the paper's Eq. 16, every gradient of a chunk at its start weights)")
    p.add_argument("--chunk-size", type=int, default=16,
                   help="chunk size b of both layers (ours: gradients at chunk-start weights; "
                   "titans-pytorch: its chunk_size, for storing and retrieving)")
    p.add_argument("--repeats", type=int, default=7, help="timed steps per path and shape; the median is reported")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per path and shape before timing")
    p.add_argument("--paths", nargs="+", choices=ALL_PATHS, default=["recurrent", "chunked", "titans-pytorch"],
                   help="layers to measure")
    p.add_argument("--recurrent-max-len", type=int, default=512,
                   help="skip the recurrent path (token by token, slow) for T above this")
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed for the weights and inputs")
    p.add_argument("--markdown", metavar="PATH",
                   help="append a section (machine, date, command, table) to this markdown file")
    p.add_argument("--title", default="Neural memory layer speed (issue 2): {device}",
                   help="heading of the appended markdown section; {device} becomes CPU or CUDA")
    return p.parse_args(argv)


# ---------------------------------------------------------------- layers


def titans_pytorch_skip_reason() -> str | None:
    try:
        import titans_pytorch  # noqa: F401
    except Exception as e:  # ImportError, or a dependency failing at import
        return f"titans-pytorch not importable ({type(e).__name__}: {e}); pip install -e '.[bench]'"
    return None


def build_layer(path: str, args: argparse.Namespace, depth: int) -> nn.Module:
    d_head = args.d_model // args.heads
    if path in OURS:
        return NeuralMemory(args.d_model, args.heads, d_head=d_head, depth=depth, expansion=args.expansion,
                            chunk_size=args.chunk_size, update=args.update, backend=path)
    from titans_pytorch import MemoryMLP
    from titans_pytorch import NeuralMemory as TitansPytorchMemory

    return TitansPytorchMemory(
        dim=args.d_model,
        chunk_size=args.chunk_size,
        heads=args.heads,
        dim_head=d_head,
        model=MemoryMLP(d_head, depth, expansion_factor=args.expansion),
        # the bare MLP, like ours (its default wraps the memory in LayerNorm + residual, as TTT does)
        mem_model_norm_add_residual=False,
        batch_size=args.chunk_size if path == "titans-pytorch-per-chunk" else None,
    )


def skip_reason(path: str, args: argparse.Namespace, length: int, device: torch.device) -> str | None:
    if path == "recurrent" and length > args.recurrent_max_len:
        return f"T > --recurrent-max-len {args.recurrent_max_len}"
    if path == "triton":
        if "triton" not in BACKENDS:
            return "triton backend not registered"
        if device.type != "cuda":
            return "triton needs CUDA"
    if path in THEIRS:
        return titans_pytorch_skip_reason()
    return None


# ---------------------------------------------------------------- timing


def make_step(layer: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        layer.zero_grad(set_to_none=True)
        x.grad = None
        y, _ = layer(x)
        y.sum().backward()

    return step


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_paths(steps: dict[str, Callable[[], None]], repeats: int, warmup: int,
               device: torch.device) -> dict[str, tuple[float, float] | str]:
    """(median, min) seconds per step of each path, timed in rotation; an error message where a path fails."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    failed: dict[str, str] = {}
    for i in range(warmup + repeats):
        for name, step in steps.items():
            if name in failed:
                continue
            try:
                sync(device)
                start = time.perf_counter()
                step()
                sync(device)
                elapsed = time.perf_counter() - start
            except Exception as e:  # e.g. CUDA out of memory at a long T: report it, keep the other paths
                failed[name] = f"error: {type(e).__name__}: {str(e).splitlines()[0][:120]}"
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            if i >= warmup:
                times[name].append(elapsed)
    return {name: failed.get(name) or (statistics.median(times[name]), min(times[name])) for name in steps}


# ---------------------------------------------------------------- machine description


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_lines(device: torch.device) -> list[str]:
    lines = [
        f"date (UTC): {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M')}",
        f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs, torch.get_num_threads() = {torch.get_num_threads()} "
        "(default, not set)",
        f"torch {torch.__version__}, titans-ts {package_version('titans-ts')}, "
        f"titans-pytorch {package_version('titans-pytorch')}, Python {platform.python_version()}",
        f"device: {device.type}",
    ]
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        lines.append(f"GPU: {torch.cuda.get_device_name(device)}, {props.total_memory / 2**30:.0f} GiB, "
                     f"CUDA {torch.version.cuda}, TF32 matmul {torch.backends.cuda.matmul.allow_tf32}")
    if hasattr(os, "getloadavg"):
        lines.append("load average (1, 5, 15 min) at start: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    return lines


def package_version(name: str) -> str:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return "not installed"


# ---------------------------------------------------------------- main


def fmt_rate(value: tuple[float, float] | str | None, tokens: int) -> str:
    """tokens/s at the median time, then the median and fastest step in ms."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    median, fastest = value
    return f"{tokens / median:,.0f} ({median * 1e3:.0f} ms; min {fastest * 1e3:.0f})"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.d_model % args.heads:
        raise SystemExit(f"--d-model {args.d_model} is not divisible by --heads {args.heads}")
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise SystemExit("--device cuda but torch.cuda.is_available() is False")
    command = "python " + " ".join(shlex.quote(a) for a in ([os.path.relpath(sys.argv[0])] + sys.argv[1:]))

    header = machine_lines(device)
    print("\n".join(header))
    print(f"command: {command}")
    shapes = (f"B={args.batch}, d_model={args.d_model}, heads={args.heads}, d_head={args.d_model // args.heads}, "
              f"expansion={args.expansion}, chunk={args.chunk_size}, our update rule {args.update}, float32, "
              f"median of {args.repeats} "
              f"(warmup {args.warmup})")
    print(shapes)

    reasons: dict[str, str] = {}
    for path in args.paths:
        if path in THEIRS and (why := titans_pytorch_skip_reason()):
            reasons[path] = why
        if path == "triton" and "triton" not in BACKENDS:
            reasons[path] = "triton backend not registered"
    for path, why in reasons.items():
        print(f"skipping {path}: {why}")

    rows = []
    for depth in args.depth:
        for length in args.lengths:
            torch.manual_seed(args.seed)
            steps, cells, params = {}, {}, {}
            for path in args.paths:
                why = skip_reason(path, args, length, device)
                if why:
                    cells[path] = f"skipped: {why}"
                    continue
                layer = build_layer(path, args, depth).to(device)
                params[path] = sum(p.numel() for p in layer.parameters() if p.requires_grad)
                x = torch.randn(args.batch, length, args.d_model, device=device, requires_grad=True)
                steps[path] = make_step(layer, x)
            cells.update(time_paths(steps, args.repeats, args.warmup, device))
            tokens = args.batch * length
            ratio = "—"
            chunked, theirs = cells.get("chunked"), cells.get("titans-pytorch")
            if isinstance(chunked, tuple) and isinstance(theirs, tuple):
                ratio = f"{theirs[0] / chunked[0]:.2f}×"  # tokens/s ratio = inverse ratio of the median times
            rows.append((depth, length, [fmt_rate(cells.get(p), tokens) for p in args.paths], ratio))
            print(f"depth {depth}  T {length:>6}  " + "  ".join(
                f"{p}: {fmt_rate(cells.get(p), tokens)}" for p in args.paths) + f"  chunked/titans-pytorch: {ratio}"
                + "  params: " + ", ".join(f"{p} {n:,}" for p, n in params.items()))
            del steps
            if device.type == "cuda":
                torch.cuda.empty_cache()

    if hasattr(os, "getloadavg"):
        end_load = "load average (1, 5, 15 min) at end: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
        print(end_load)
        header.append(end_load)

    table = ["| depth | T | " + " | ".join(f"{p} tok/s (median ms; min ms)" for p in args.paths)
             + " | chunked / titans-pytorch |",
             "|---|---|" + "---|" * len(args.paths) + "---|"]
    table += [f"| {d} | {t} | " + " | ".join(cells) + f" | {r} |" for d, t, cells, r in rows]
    print("\n".join(table))

    if args.markdown:
        title = args.title.format(device=device.type.upper())
        section = [f"## {title}", "", *[f"- {line}" for line in header], f"- shapes: {shapes}",
                   f"- command: `{command}`", "", *table, ""]
        new_file = not os.path.exists(args.markdown)
        with open(args.markdown, "a") as f:
            if new_file:
                f.write("# Benchmarks — every figure with device, date, shapes, command and the baseline measured "
                        "in the same run\n\n")
            f.write("\n".join(section) + "\n")
        print(f"appended to {args.markdown}")


if __name__ == "__main__":
    main()
