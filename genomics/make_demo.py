"""The planted-motif task, and the bundled demo data set built from it (``titans-ts classify --quick``).

Regenerate the bundled files (deterministic; the tests check the shipped copy against this function)::

    python -m genomics.make_demo            # writes genomics/data/demo/{train,test}.csv.gz
"""

from __future__ import annotations

import argparse
import gzip
import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genomics.alphabet import reverse_complement
from genomics.catalog import DEMO_DIR

MOTIFS = ("TATAAA", "GGGCGG")  # a TATA box and a GC box (Sp1 site)
DEMO = {"n_train": 2000, "n_test": 500, "length": 100, "seed": 2501}


def planted_motif(
    n: int, length: int, seed: int, motifs: Sequence[str] = MOTIFS, multiclass: bool = False
) -> tuple[list[str], list[int]]:
    """``n`` uniform random A/C/G/T sequences of ``length`` bases with balanced labels.

    Label 0: no motif on either strand. Otherwise one motif, drawn uniformly from ``motifs``, planted at a uniform
    position on a random strand (the motif or its reverse complement); the label is 1 or, with ``multiclass``,
    1 + the motif's index. The background never holds a motif: draws that do are redrawn.
    """
    rng = np.random.default_rng(seed)
    n_classes = 1 + (len(motifs) if multiclass else 1)
    labels = rng.permutation(np.arange(n) % n_classes).tolist()
    both_strands = sorted({m for motif in motifs for m in (motif, reverse_complement(motif))})
    forbidden = re.compile(f"(?=({'|'.join(both_strands)}))")  # lookahead: overlapping occurrences count
    sequences = []
    for label in labels:
        while True:
            sequence = "".join(rng.choice(list("ACGT"), size=length))
            if label:
                motif = motifs[label - 1] if multiclass else motifs[rng.integers(len(motifs))]
                motif = motif if rng.random() < 0.5 else reverse_complement(motif)
                at = int(rng.integers(length - len(motif) + 1))
                background = sequence[:at] + sequence[at + len(motif) :]
                if not forbidden.search(background):
                    sequence = sequence[:at] + motif + sequence[at + len(motif) :]
                    if len(forbidden.findall(sequence)) == 1:
                        break
            elif not forbidden.search(sequence):
                break
        sequences.append(sequence)
    return sequences, labels


def demo_csv(split: str) -> bytes:
    """The CSV text (``seq,label``) of the demo's ``split`` ("train" or "test"), as generated."""
    n = DEMO["n_train"] if split == "train" else DEMO["n_test"]
    seed = DEMO["seed"] + (split == "test")
    sequences, labels = planted_motif(n, DEMO["length"], seed)
    return ("seq,label\n" + "".join(f"{s},{y}\n" for s, y in zip(sequences, labels))).encode()


def write_demo(directory: Path = DEMO_DIR) -> list[Path]:
    """Write ``train.csv.gz`` and ``test.csv.gz`` to ``directory`` (gzip without name or time stamp, so the bytes
    depend on the content only); returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for split in ("train", "test"):
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as handle:
            handle.write(demo_csv(split))
        path = directory / f"{split}.csv.gz"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m genomics.make_demo [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help=f"output folder (default {DEMO_DIR})")
    for path in write_demo(parser.parse_args(argv).out):
        print(f"{path}  {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
