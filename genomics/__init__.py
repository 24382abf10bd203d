"""Genomics: labelled DNA sequences, nucleotide tokenisation, and the Titans and CNN sequence classifiers.

- ``read_sequences`` / ``read_benchmark`` / ``resolve_benchmark``: FASTA, CSV/TSV and Genomic Benchmarks folders;
- ``prepare_classification``: classes, length policy, stratified validation split, encoded tensors;
- ``NucleotideTokenizer``: bases or k-mers to ids, padding masks, reverse complement;
- ``TitansClassifierNet`` and ``GenomicBenchmarksCNN``: (tokens, mask) → class logits; ``StrandAveraged`` wraps either,
  ``TokenProbabilities`` serves either as tokens → class probabilities;
- ``fit_classifier``: trains either through ``titans_ts.training.fit`` (best checkpoint on validation accuracy).

Bad input raises ``titans_ts.errors.DataError`` with a one-line message naming the file and line.
"""

from genomics.baseline import GenomicBenchmarksCNN
from genomics.catalog import available_benchmarks, resolve_benchmark
from genomics.dataset import ClassificationData, prepare_classification
from genomics.fit import fit_classifier
from genomics.model import TitansClassifierNet, TokenProbabilities
from genomics.readers import SequenceSet, read_benchmark, read_fasta, read_sequences, read_table
from genomics.strands import StrandAveraged, random_reverse_complement
from genomics.tokens import NucleotideTokenizer, reverse_complement_tokens

__all__ = [
    "ClassificationData",
    "GenomicBenchmarksCNN",
    "NucleotideTokenizer",
    "SequenceSet",
    "StrandAveraged",
    "TitansClassifierNet",
    "TokenProbabilities",
    "available_benchmarks",
    "fit_classifier",
    "prepare_classification",
    "random_reverse_complement",
    "read_benchmark",
    "read_fasta",
    "read_sequences",
    "read_table",
    "resolve_benchmark",
    "reverse_complement_tokens",
]
