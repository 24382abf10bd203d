"""How long ``torch.export`` takes for the DNA classifier as its input grows (the reason for
``titans_ts.training.tracking.EXPORT_MAX_STEPS``): the memory's loop over chunks is unrolled into the graph.

    python bench/export_time.py --lengths 128 256 512 1024
"""

from __future__ import annotations

import argparse
import time

import torch

from genomics.model import TitansClassifierNet, TokenProbabilities
from titans_ts import TitansConfig
from titans_ts.training.tracking import memory_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512], help="tokens per input")
    parser.add_argument("--n-layers", type=int, default=1, help="Titans blocks (default: %(default)s)")
    parser.add_argument("--d-model", type=int, default=32, help="width (default: %(default)s)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = TitansConfig(variant="lmm", d_model=args.d_model, n_layers=args.n_layers, n_heads=4)
    model = TokenProbabilities(TitansClassifierNet(8, 2, config, "attention")).eval()
    print("tokens  memory steps  export s  graph nodes")
    for length in args.lengths:
        tokens = torch.randint(1, 8, (2, length))
        start = time.perf_counter()
        program = torch.export.export(model, (tokens,), dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
        seconds = time.perf_counter() - start
        print(f"{length:6d}  {memory_steps(config, length):12d}  {seconds:8.1f}  {len(program.graph.nodes):11d}")


if __name__ == "__main__":
    main()
