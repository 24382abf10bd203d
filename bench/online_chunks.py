"""Does the carried memory stay bounded when a trained forecaster reads a test split online, per chunk size?

Loads the best checkpoint of a `titans-ts forecast` run (the options that trained it again, e.g. from the table's
config), sets every memory's chunk size (Eq. 16's b) to each value given, and scores the test split frozen and online
(``titans_ts.forecasting.online.compare_online``), with the first test window whose online forecast is not finite.

    python bench/online_chunks.py --checkpoint /tmp/online/table/ETTh2-lmm/H96/titans/best.ckpt \\
        --chunks 16 8 4 1 -- --dataset ETTh2 --config bench/configs/etth1-h96-tuned.yaml --horizon 96
"""

from __future__ import annotations

import argparse
import sys
import tempfile

import torch

from pipelines.cli import build_parser, parse
from pipelines.forecast import plan
from titans_ts.forecasting.model import TitansForecastNet
from titans_ts.forecasting.online import compare_online
from titans_ts.memory import NeuralMemory


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    at = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a best.ckpt of the Titans model of a forecast run")
    parser.add_argument("--chunks", nargs="+", type=int, default=[16, 8, 4, 1], help="chunk sizes to try")
    args = parser.parse_args(argv[:at])
    with tempfile.TemporaryDirectory() as scratch:
        options = parse(build_parser(), ["forecast", *argv[at + 1 :], "--run-dir", scratch])
        job = plan(options, {})[0]
    model = TitansForecastNet(job.forecaster)
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    model.load_state_dict({key.removeprefix("model."): value for key, value in state.items()})
    print(f"{job.dataset} H{job.data.horizon}, trained chunk size {job.forecaster.backbone.chunk_size}")
    print("| chunk size | frozen MSE | online MSE | online diverged at test window |\n|---|---|---|---|")
    for chunk in args.chunks:
        for memory in model.modules():
            if isinstance(memory, NeuralMemory):
                memory.chunk_size = chunk
        comparison = compare_online(model, job.data, "test")
        metrics = comparison.metrics()
        print(f"| {chunk} | {metrics['frozen_mse']:.4f} | {metrics['online_mse']:.4f} | {comparison.diverged_at()} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
