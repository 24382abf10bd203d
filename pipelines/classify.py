"""Train a Titans sequence classifier and the Genomic Benchmarks CNN baseline on the same splits, test both, and log
the run to MLflow.

Data: a benchmark folder by name (--dataset: a GUE task such as gue_tf_0, a Genomic Benchmarks set; "demo" is the
bundled planted-motif set), or your own FASTA / CSV / TSV file (--data) with its own test file (--test-data) or,
without one, a stratified seeded test split held out from it (--test-fraction). The validation split is the
benchmark's dev split where it ships one (GUE), else (--val-fraction) carved from the training sequences, stratified
and seeded; the test split is only scored, with the checkpoint of the best validation MCC (Matthews correlation, GUE's
headline metric). Each run is one MLflow run in the experiment "classify/<dataset>" holding every option as a
parameter, per-epoch losses and validation MCC and accuracy of both models, their test MCC, accuracy, macro-F1 and
AUROC, a confusion-matrix figure, the options as config.yaml, the Titans model, and ``test_predictions.parquet`` (per
test sequence: ``label``, and the class ``titans`` and ``gb_cnn`` predicted) for the dashboard.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from genomics.baseline import MIN_LENGTH
from genomics.catalog import default_genomic_dir, resolve_benchmark
from genomics.dataset import ClassificationData, prepare_classification, split_test
from genomics.fit import MONITOR, fit_classifier, strand_classifier
from genomics.model import POOLINGS
from genomics.readers import FASTA_SUFFIXES, TABLE_SUFFIXES, read_benchmark, read_sequences
from genomics.tokens import NucleotideTokenizer
from pipelines.artifacts import PREDICTIONS
from pipelines.options import (
    FORECAST_ONLY,
    add_backbone_arguments,
    add_run_arguments,
    add_switch,
    add_training_arguments,
    backbone_config,
    plan_or_report,
    run_directory,
    store_run_options,
    train_settings,
)
from pipelines.stopping import Stopped
from titans_ts.config import TitansConfig
from titans_ts.errors import DataError
from titans_ts.training.settings import TrainSettings

PROG = "titans-ts classify"
DEFAULT_DATASET = "demo"
RUNS_ROOT = Path("runs") / "classify"
SCORES = ("accuracy", "f1", "mcc", "auroc")
# Where this pipeline's defaults differ from the library's (TitansConfig, TrainSettings), by option name: the memory
# alone (Table 4 of the paper reports it for DNA), with the dropout that forecasting uses.
DEFAULTS = {"model": "lmm", "dropout": 0.1}
# --quick: a small model and few epochs on the bundled demo set; config file and flags still override it.
QUICK = {"d_model": 32, "n_layers": 1, "epochs": 6, "max_train_batches": 60, "lr": 0.002, "threads": 1}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register every option of ``titans-ts classify`` on ``parser``."""
    parser.epilog = (
        "examples:\n"
        "  titans-ts classify --quick                               # about 2 min on 2 CPU cores\n"
        "  titans-ts classify --dataset gue_prom_core_all --model mag --kmer 3 --lr-schedule cosine\n"
        "  titans-ts classify --data reads.fa --labels labels.tsv --test-data heldout.fa --max-length 500 --truncate\n"
        "  titans-ts classify --resume --run-dir runs/classify/demo-mag-20260101-120000\n"
        "precedence: built-in defaults < --quick < --config file < flags on the command line"
    )
    data = parser.add_argument_group("data")
    source = data.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset",
        metavar="NAME",
        help="a benchmark data set: the folder NAME under --data-dir with train.csv.gz, test.csv.gz and, for GUE, "
        "dev.csv.gz (then the validation split); 'demo' is the bundled planted-motif set (default: "
        f"{DEFAULT_DATASET})",
    )
    source.add_argument(
        "--data",
        metavar="PATH",
        help=f"labelled sequences: FASTA ({' '.join(FASTA_SUFFIXES)}) or a table (.csv; {' '.join(TABLE_SUFFIXES[1:])} "
        "tab-separated), optionally .gz",
    )
    data.add_argument(
        "--test-data",
        metavar="PATH",
        help="the test file of --data; without it a stratified, seeded --test-fraction of --data is held out as test",
    )
    data.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="share of --data held out as test when there is no --test-data (default: %(default)s)",
    )
    data.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="share of the training sequences held out for validation, stratified; unused when the data set has a dev "
        "split (default: %(default)s)",
    )
    data.add_argument(
        "--data-dir",
        metavar="DIR",
        help=f"folder of benchmark data sets (default: {default_genomic_dir()}, from $TITANS_TS_DATA)",
    )
    data.add_argument("--labels", metavar="PATH", help="FASTA only: a CSV/TSV of record id and label")
    data.add_argument(
        "--sequence-column", metavar="NAME", help="tables: the sequence column (default: seq/sequence/dna)"
    )
    data.add_argument("--label-column", metavar="NAME", help="tables: the label column (default: label/class/y/...)")
    tokens = parser.add_argument_group("sequences and tokens")
    tokens.add_argument(
        "--kmer",
        type=int,
        default=1,
        help="bases per token of the Titans model; 1 = single nucleotides (default: 1); the CNN always reads single "
        "bases, as published",
    )
    add_switch(tokens, "--kmer-overlap", False, "k-mers every base (stride 1) rather than every k bases")
    tokens.add_argument(
        "--max-length",
        type=int,
        metavar="BASES",
        help="pad every sequence to this many bases (default: the longest sequence); a longer one is an error "
        "unless --truncate",
    )
    add_switch(tokens, "--truncate", False, "keep the first --max-length bases of longer sequences")
    add_switch(
        tokens,
        "--rc-augment",
        True,
        "train on the reverse complement of each sequence with probability 1/2, both models",
    )
    add_switch(
        tokens,
        "--rc-average",
        True,
        "validate and test on the mean class probabilities of a sequence and its reverse complement, both models",
    )
    model = parser.add_argument_group("model (Titans backbone and classification head)")
    add_backbone_arguments(model, DEFAULTS)
    model.add_argument(
        "--pooling",
        choices=POOLINGS,
        default="attention",
        help="features to one vector: learned attention weights, the mean over the sequence, or its last token "
        "(default: %(default)s)",
    )
    train = parser.add_argument_group("training")
    add_training_arguments(train, "the Genomic Benchmarks CNN", baseline_lr=1e-3, defaults=DEFAULTS, skip=FORECAST_ONLY)
    add_run_arguments(
        parser,
        QUICK,
        "d_model 32, 1 layer, lr 0.002, 6 epochs of at most 60 batches, 1 thread (on the demo set by default)",
        find_run,
        "a finished run is kept, an unfinished one continues from its last checkpoints and MLflow run",
        "write the run's results to this JSON file",
    )
    parser.set_defaults(func=run_classify)


@dataclass
class Job:
    """One (dataset, model) run: the encoded splits (``data``, in the run's tokens; ``encode`` encodes the same splits
    with another tokenizer), the files they came from (by role: "data", and "dev_data" / "test_data" where
    the data set has such files), the Titans configuration, the training settings of Titans and of the CNN, the
    options (the strand options among them), and the checkpoint folder."""

    dataset: str
    files: dict[str, Path]
    data: ClassificationData
    encode: Callable[[NucleotideTokenizer], ClassificationData]
    backbone: TitansConfig
    settings: TrainSettings
    baseline_settings: TrainSettings
    options: dict[str, Any]
    directory: Path

    @functools.cached_property
    def baseline_data(self) -> ClassificationData:
        """The splits in single bases, which the CNN reads (as published): ``data`` itself when it is in single bases,
        else encoded on first use (``tune classify`` never trains the CNN, so never pays for it)."""
        return self.data if self.data.tokenizer.k == 1 else self.encode(NucleotideTokenizer())

    def classifier(self, model: nn.Module) -> nn.Module:
        """``model`` as trained, validated and tested: strand-averaged in eval mode with --rc-average."""
        return strand_classifier(model, self.data, self.options["rc_average"])

    @property
    def strands(self) -> dict[str, bool]:
        """The strand options of ``genomics.fit.fit_classifier``: ``rc_augment`` and ``rc_average``."""
        return {"rc_augment": self.options["rc_augment"], "rc_average": self.options["rc_average"]}


def dataset_name(path: Path) -> str:
    """The file name of ``path`` without .gz and its type suffix ("reads" for reads.fa.gz); a file named after a split
    is named with its folder too ("human_enhancers_cohn-test" for human_enhancers_cohn/test.csv.gz)."""
    stem = Path(path.name.removesuffix(".gz").removesuffix(".GZ")).stem
    return f"{path.resolve().parent.name}-{stem}" if stem.lower() in ("train", "dev", "test") else stem


def find_run(args: argparse.Namespace) -> Path:
    """The run folder of ``args`` (``run_directory``: --run-dir, or with --resume the newest of the data set)."""
    folder = None if args.data else resolve_benchmark(args.dataset or DEFAULT_DATASET, args.data_dir)
    return run_directory(args, RUNS_ROOT, dataset_name(Path(args.data)) if folder is None else folder.name)


def plan(args: argparse.Namespace, options: dict[str, Any]) -> Job:
    """Read, check and encode the data, and check the model and training options, before anything trains.
    DataError / ValueError for bad input."""
    settings = train_settings(args)
    backbone = backbone_config(args)
    if args.kmer < 1:
        raise ValueError(f"--kmer must be ≥ 1; got {args.kmer}")
    if args.data is None and (args.test_data or args.labels or args.sequence_column or args.label_column):
        raise ValueError("--test-data, --labels, --sequence-column and --label-column need --data")
    dev = None
    if args.data:
        read = {"labels": args.labels, "sequence_column": args.sequence_column, "label_column": args.label_column}
        files = {"data": Path(args.data), **({"test_data": Path(args.test_data)} if args.test_data else {})}
        train = read_sequences(files["data"], **read)
        if args.test_data:
            test = read_sequences(files["test_data"], **read)
        else:
            train, test = split_test(train, args.test_fraction, args.seed)
        dataset = dataset_name(files["data"])
    else:
        folder = resolve_benchmark(args.dataset or DEFAULT_DATASET, args.data_dir)
        splits = read_benchmark(folder)
        train, dev, test = splits.train, splits.dev, splits.test
        files = {"data": Path(train.source), "test_data": Path(test.source)}
        files.update({"dev_data": Path(dev.source)} if dev else {})
        dataset = folder.name
    encode = functools.partial(
        prepare_classification, train, test, max_bases=args.max_length, truncate=args.truncate,
        val_fraction=args.val_fraction, seed=args.seed, val=dev,
    )  # fmt: skip
    data = encode(NucleotideTokenizer(args.kmer, args.kmer_overlap))
    if data.max_bases < MIN_LENGTH:  # the CNN reads single bases: one token per base
        raise DataError(
            f"{train.source}: sequences of {data.max_bases} bases, but the Genomic Benchmarks CNN baseline needs at "
            f"least {MIN_LENGTH}; pass --max-length {MIN_LENGTH} to pad the sequences"
        )
    return Job(
        dataset=dataset,
        files=files,
        data=data,
        encode=encode,
        backbone=backbone,
        settings=settings,
        baseline_settings=dataclasses.replace(settings, lr=args.baseline_lr),
        options=options,
        directory=run_directory(args, RUNS_ROOT, dataset),
    )


def run_job(job: Job, args: argparse.Namespace) -> dict[str, Any]:
    """Train, test and log the Titans classifier and the CNN; returns the summary (also ``<run dir>/result.json``)."""
    # Imported here, not at the top, so that ``--help`` and bad-input errors do not wait for Lightning and MLflow.
    import lightning as L
    import mlflow
    import numpy as np
    import pandas as pd

    from genomics.baseline import GenomicBenchmarksCNN
    from genomics.metrics import classification_metrics
    from genomics.model import TitansClassifierNet, TokenProbabilities
    from pipelines.figures import plot_confusion
    from pipelines.tracking import log_model, start_job_run
    from titans_ts.training.tracking import EpochMetrics, file_sha256, memory_steps, tracking_uri

    result_file = job.directory / "result.json"
    if args.resume and result_file.is_file():
        print(f"{job.dataset} {args.model}: finished before, kept ({result_file})")
        return json.loads(result_file.read_text())
    data = job.data
    facts = {
        **{f"{role}_file": str(path) for role, path in job.files.items()},
        "classes": data.classes,
        "tokens": data.length,
        "max_bases": data.max_bases,
        "vocab_size": data.tokenizer.vocab_size,
        **{f"sequences_{split}": len(data.labels[split]) for split in ("train", "val", "test")},
    }
    model_params = {f"backbone.{key}": value for key, value in job.backbone.to_dict().items()}
    shas = {f"{role}_sha256": file_sha256(path) for role, path in job.files.items()}
    tags = {**shas, "dataset": job.dataset, "model": args.model, "baseline": "gb_cnn"}
    mlflow.set_tracking_uri(tracking_uri(args.tracking_uri))
    run_name = f"{args.model}-{job.dataset}"
    params = {**job.options, **model_params, **facts}
    with start_job_run(job.directory, f"classify/{job.dataset}", run_name, args.resume, params, tags, job.options,
                       args.config) as run:  # fmt: skip
        run_id = run.info.run_id
        n_classes, vocab = len(data.classes), data.tokenizer.vocab_size
        L.seed_everything(args.seed, workers=True, verbose=False)
        model = TitansClassifierNet(vocab, n_classes, job.backbone, args.pooling)
        titans_callbacks = [EpochMetrics(run_id)]
        titans = fit_classifier(
            model, data, job.settings, job.directory / "titans", args.resume, titans_callbacks, **job.strands
        )
        L.seed_everything(args.seed, workers=True, verbose=False)
        bases = job.baseline_data
        cnn = GenomicBenchmarksCNN(bases.tokenizer.vocab_size, n_classes, bases.length)
        cnn_callbacks = [EpochMetrics(run_id, "baseline_")]
        baseline = fit_classifier(
            cnn, bases, job.baseline_settings, job.directory / "cnn", args.resume, cnn_callbacks, **job.strands
        )
        labels = data.labels["test"].numpy()
        metrics = {
            **classification_metrics(labels, titans.predictions, "test_"),
            **classification_metrics(labels, baseline.predictions, "baseline_test_"),
            f"best_{MONITOR}": titans.score,
            f"baseline_best_{MONITOR}": baseline.score,
            "epochs": titans.epochs,
            "baseline_epochs": baseline.epochs,
            "train_seconds": titans.seconds,
            "baseline_train_seconds": baseline.seconds,
        }
        mlflow.log_metrics(metrics)
        predicted = {f"Titans ({args.model})": titans.predictions.argmax(1), "GB CNN": baseline.predictions.argmax(1)}
        figure = plot_confusion(labels, predicted, data.classes, f"{job.dataset}: test split, {len(labels)} sequences")
        mlflow.log_figure(figure, "confusion_matrix.png")
        names = np.array(data.classes)
        table = {"label": names[labels], "titans": names[predicted[f"Titans ({args.model})"]]}
        pd.DataFrame({**table, "gb_cnn": names[predicted["GB CNN"]]}).to_parquet(job.directory / PREDICTIONS)
        mlflow.log_artifact(str(job.directory / PREDICTIONS))
        steps = memory_steps(job.backbone, data.tokens["test"].shape[1])
        log_model(PROG, TokenProbabilities(job.classifier(model)), data.tokens["test"][:2].numpy(), steps)
    result = {
        "dataset": job.dataset,
        "model": args.model,
        **{f"{model}test_{key}": metrics[f"{model}test_{key}"] for model in ("", "baseline_") for key in SCORES},
        f"best_{MONITOR}": titans.score,
        "epochs": titans.epochs,
        "train_seconds": round(titans.seconds, 1),
        "baseline_train_seconds": round(baseline.seconds, 1),
        "mlflow_run_id": run_id,
    }
    result_file.write_text(json.dumps(result, indent=2))
    return result


def run_classify(args: argparse.Namespace) -> int:
    """The ``classify`` subcommand: plan the run, then train, test and log both models."""
    job = plan_or_report(PROG, plan, args)
    if job is None:
        return 2
    if not args.resume:
        store_run_options(job.directory, job.options)
    from mlflow.exceptions import MlflowException  # here: bad input is reported before MLflow and Lightning load

    from pipelines.tracking import tracking_error
    from titans_ts.training.fit import FitError

    try:
        r = run_job(job, args)
    except FitError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    except MlflowException as err:
        print(tracking_error(PROG, err, args.tracking_uri, job.directory), file=sys.stderr)
        return 1
    except Stopped as stop:
        stop.resume = f"continue with: {PROG} --resume --run-dir {job.directory}"
        raise
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(r, indent=2))
    print(
        f"{r['dataset']} {r['model']}: test MCC {r['test_mcc']:.4f} accuracy {r['test_accuracy']:.4f} "
        f"F1 {r['test_f1']:.4f} AUROC {r['test_auroc']:.4f} | CNN MCC {r['baseline_test_mcc']:.4f} "
        f"accuracy {r['baseline_test_accuracy']:.4f} F1 {r['baseline_test_f1']:.4f} | {r['epochs']} epochs, "
        f"{r['train_seconds']:.0f} s | MLflow run {r['mlflow_run_id']}"
    )
    return 0
