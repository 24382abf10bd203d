"""``titans-ts info``: versions and the compute paths (CUDA, Triton kernels) available on this machine."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import platform


def package_version() -> str:
    """Return the installed titans-ts version, or a placeholder when run from an uninstalled tree."""
    try:
        return importlib.metadata.version("titans-ts")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def triton_version() -> str | None:
    """Return Triton's version, or ``None`` when it cannot be imported."""
    try:
        import triton
    except ImportError:
        return None
    return str(triton.__version__)


def triton_path_available() -> bool:
    """Whether the Triton kernels can run: CUDA is available and Triton imports.

    Defers to ``titans_ts.ops.memory_update.triton_available`` when the ops package provides it,
    so the CLI reports the same answer the model code acts on.
    """
    try:
        from titans_ts.ops.memory_update import triton_available
    except ImportError:
        import torch

        return torch.cuda.is_available() and importlib.util.find_spec("triton") is not None
    return bool(triton_available())


def run(args: argparse.Namespace) -> int:
    """Print versions and the compute paths available on this machine."""
    import torch

    cuda = torch.cuda.is_available()
    lines = [
        f"titans-ts: {package_version()}",
        f"python:    {platform.python_version()}",
        f"torch:     {torch.__version__}",
        f"triton:    {triton_version() or 'not installed'}",
        f"cuda:      {'yes (' + torch.cuda.get_device_name(0) + ')' if cuda else 'no'}",
        f"triton path available: {'yes' if triton_path_available() else 'no'}",
    ]
    print("\n".join(lines))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the (option-less) ``info`` subcommand on ``parser``."""
    parser.set_defaults(func=run)
