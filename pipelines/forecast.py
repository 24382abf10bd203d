"""Train a Titans forecaster and a DLinear baseline on the same windows, test both, and log the run to MLflow.

The series is split as Time-Series-Library does (ETTh*: 12/4/4 months; ETTm*: the same in 15-minute rows; any
other file: 70/10/20 % by time), standardised with a scaler fitted on the train rows only, and cut into stride-1
windows of --lookback input and --horizon output steps; every test window is scored (MSE and MAE on the scaled
data, as the protocol reports them, and in the data's own units). Each horizon is one MLflow run in the experiment
"forecast/<dataset>", holding every option as a parameter, per-epoch losses of both models, the test metrics, a
forecast-vs-actual figure, the options as config.yaml and the Titans model.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import mean_absolute_error, mean_squared_error

from pipelines.config_file import config_tokens, read_config
from pipelines.settings import DEVICES, LOSSES, LR_SCHEDULES, TrainSettings
from titans_ts.config import VARIANTS, TitansConfig
from titans_ts.data import NAN_POLICIES, DataError, ForecastData, load_table, prepare_forecast, resolve_dataset
from titans_ts.forecasting import ForecasterConfig

PROG = "titans-ts forecast"
HORIZONS = (96, 192, 336, 720)
DEFAULT_DATASET = "ETTh1"
RUNS_ROOT = Path("runs") / "forecast"
_SUFFIXES = (".csv.gz", ".csv", ".parquet")
# --quick: horizon 96, a small model and a capped number of batches; config file and flags still override it.
QUICK = {"horizon": [96], "d_model": 32, "n_layers": 1, "epochs": 3, "max_train_batches": 60}
# Options that say where a run is stored, not what it computes: logged as parameters, left out of config.yaml.
RUN_ONLY = ("config", "run_dir", "resume", "summary_json", "tracking_uri")


def horizon_value(text: str) -> list[int]:
    """A --horizon value: a positive integer, or "all" for the protocol's 96, 192, 336 and 720."""
    if text.strip().lower() == "all":
        return list(HORIZONS)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"horizon must be a positive integer or 'all', got {text!r}")
    return [value]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register every option of ``titans-ts forecast`` on ``parser``."""
    parser.epilog = (
        "examples:\n"
        "  titans-ts forecast --quick                               # about 2 min on 2 CPU cores\n"
        "  titans-ts forecast --dataset ETTh2 --horizon all --model mag\n"
        "  titans-ts forecast --data sales.csv --target units --features MS --config my.yaml --horizon 28\n"
        "  titans-ts forecast --resume --run-dir runs/forecast/ETTh1-mag-20260101-120000\n"
        "precedence: built-in defaults < --quick < --config file < flags on the command line"
    )
    data = parser.add_argument_group("data")
    source = data.add_mutually_exclusive_group()
    source.add_argument("--data", metavar="PATH", help="a .csv, .csv.gz or .parquet file with a date column")
    source.add_argument(
        "--dataset",
        metavar="NAME",
        help=f"a benchmark by name: ETTh1 is bundled, others are read from --data-dir (default: {DEFAULT_DATASET})",
    )
    data.add_argument(
        "--data-dir", metavar="DIR", help="folder of benchmark files for --dataset (default: ../shared/data)"
    )
    data.add_argument(
        "--date-col",
        metavar="NAME",
        help="the date column (default: the first named date/datetime/time/timestamp/ds, else the first that parses)",
    )
    data.add_argument("--target", metavar="COL", help="the column to forecast in modes S and MS (default: the last)")
    data.add_argument(
        "--features",
        choices=("M", "S", "MS"),
        default="M",
        help="M: all columns in, all out (the paper's setting); S: target in, target out; MS: all in, target out "
        "(default: %(default)s)",
    )
    data.add_argument(
        "--covariates",
        nargs="+",
        metavar="COL",
        help="use only these columns besides --target (which is then required); default: every column",
    )
    data.add_argument(
        "--nan-policy",
        choices=NAN_POLICIES,
        default="error",
        help="missing values: error, ffill (carry the last value) or interpolate (linearly) (default: %(default)s)",
    )
    task = parser.add_argument_group("task")
    task.add_argument("--lookback", type=int, default=96, help="input steps L (default: %(default)s)")
    task.add_argument(
        "--horizon",
        type=horizon_value,
        nargs="+",
        default=[[96]],
        metavar="H|all",
        help="forecast steps; several values, or 'all' for 96 192 336 720, give one run each (default: 96)",
    )
    model = parser.add_argument_group("model (Titans backbone and forecasting head)")
    model.add_argument(
        "--model",
        choices=VARIANTS,
        default="mag",
        help="mac: memory as context; mag: memory as gate; mal: memory as layer; lmm: memory alone "
        "(default: %(default)s)",
    )
    model.add_argument("--d-model", type=int, default=64, help="width of the backbone (default: %(default)s)")
    model.add_argument("--n-layers", type=int, default=2, help="Titans blocks (default: %(default)s)")
    model.add_argument("--n-heads", type=int, default=4, help="heads of attention and memory (default: %(default)s)")
    model.add_argument(
        "--memory-depth", type=int, default=2, help="layers of the memory MLP, 1 = linear memory (default: %(default)s)"
    )
    model.add_argument(
        "--memory-expansion",
        type=int,
        default=2,
        help="hidden width of the memory MLP per head width (default: %(default)s)",
    )
    model.add_argument(
        "--chunk-size", type=int, default=16, help="tokens per memory-update mini-batch (default: %(default)s)"
    )
    model.add_argument(
        "--segment-size", type=int, default=32, help="MAC segment length in tokens (default: %(default)s)"
    )
    model.add_argument(
        "--window", type=int, default=32, help="MAG/MAL sliding attention window in tokens (default: %(default)s)"
    )
    model.add_argument("--n-persistent", type=int, default=4, help="persistent memory tokens (default: %(default)s)")
    model.add_argument("--dropout", type=float, default=0.1, help="dropout inside the backbone (default: %(default)s)")
    model.add_argument(
        "--patch-len",
        type=int,
        default=16,
        help="steps per token; --patch-len 1 --stride 1 embeds every step (default: %(default)s)",
    )
    model.add_argument("--stride", type=int, default=8, help="steps between patch starts (default: %(default)s)")
    model.add_argument(
        "--channels",
        choices=("independent", "mixed"),
        default="independent",
        help="independent: each channel a separate series (PatchTST/Simba); mixed: one token holds all channels, "
        "so covariates inform the forecast (default: %(default)s)",
    )
    model.add_argument(
        "--revin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="normalise each input window per channel and undo it on the forecast (default: on)",
    )
    model.add_argument(
        "--revin-affine",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="learn a per-channel scale and shift in the instance normalisation (default: off)",
    )
    model.add_argument("--head-dropout", type=float, default=0.0, help="dropout before the head (default: %(default)s)")
    train = parser.add_argument_group("training")
    train.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of Titans (default: %(default)s)")
    train.add_argument(
        "--baseline-lr", type=float, default=5e-3, help="Adam learning rate of DLinear (default: %(default)s)"
    )
    train.add_argument(
        "--loss",
        choices=LOSSES,
        default="mse",
        help="training loss of both models (default: %(default)s)",
    )
    train.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default="constant",
        help="per epoch: constant, halving (x0.5 every epoch, as Time-Series-Library) or cosine (to 0 over --epochs) "
        "(default: %(default)s)",
    )
    train.add_argument("--batch-size", type=int, default=32, help="windows per batch (default: %(default)s)")
    train.add_argument("--epochs", type=int, default=10, help="most epochs (default: %(default)s)")
    train.add_argument(
        "--patience",
        type=int,
        default=3,
        help="stop after this many epochs without a lower validation MSE (default: %(default)s)",
    )
    train.add_argument(
        "--max-train-batches",
        type=int,
        metavar="N",
        help="train on at most N batches per epoch (default: all; --quick sets 60); validation and test use all",
    )
    train.add_argument("--seed", type=int, default=2021, help="seed of every random generator (default: %(default)s)")
    train.add_argument(
        "--device",
        choices=DEVICES,
        default="auto",
        help="auto: CUDA when torch sees it, else CPU (default: %(default)s)",
    )
    run = parser.add_argument_group("run, tracking and output")
    run.add_argument(
        "--config",
        metavar="PATH",
        help="a YAML or TOML file of options (keys as the long options: d_model or d-model); flags override it",
    )
    run.add_argument(
        "--quick",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="a small configuration that finishes in about 2 minutes on 2 CPU cores: horizon 96, d_model 32, "
        "1 layer, 3 epochs of at most 60 batches",
    )
    run.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in this folder)",
    )
    run.add_argument(
        "--run-dir",
        metavar="DIR",
        help="checkpoint folder of this run (default: runs/forecast/<dataset>-<model>-<date>-<time>)",
    )
    run.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="continue the run in --run-dir (default: the newest one of this dataset and model): finished horizons "
        "are kept, the others continue from their last checkpoint and MLflow run",
    )
    run.add_argument("--summary-json", metavar="PATH", help="write the per-horizon results to this JSON file")
    parser.set_defaults(func=run_forecast, presets=functools.partial(presets, parser))


def presets(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """Option tokens of --quick and --config, in that order (the command-line flags are parsed after them)."""
    try:
        options = read_config(args.config) if args.config else {}
        quick = options.get("quick", args.quick)
        tokens = config_tokens(parser, QUICK, "--quick") if quick else []
        return tokens + config_tokens(parser, options, args.config or "", refused=("config",))
    except ValueError as err:
        parser.error(str(err))  # exits with status 2
        return []


@dataclass
class Job:
    """One (dataset, model, horizon) run: the prepared data, the model configuration, the training settings of Titans
    and of the DLinear baseline, the options, and the checkpoint folder."""

    dataset: str
    path: Path
    data: ForecastData
    forecaster: ForecasterConfig
    settings: TrainSettings
    baseline_settings: TrainSettings
    options: dict[str, Any]
    directory: Path


def dataset_name(path: Path) -> str:
    """The file name of ``path`` without its data suffix ("ETTh1" for ETTh1.csv.gz)."""
    name = path.name
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def run_directory(args: argparse.Namespace, dataset: str) -> Path:
    """--run-dir, else a new dated folder (or, with --resume, the newest one) under runs/forecast/."""
    if args.run_dir:
        directory = Path(args.run_dir)
        if args.resume and not directory.is_dir():
            raise ValueError(f"--resume: run directory {directory} not found")
    elif args.resume:
        found = sorted(RUNS_ROOT.glob(f"{dataset}-{args.model}-*"))
        if not found:
            raise ValueError(f"--resume: no run of {dataset} with model {args.model} under {RUNS_ROOT}; pass --run-dir")
        directory = found[-1]
    else:
        directory = RUNS_ROOT / f"{dataset}-{args.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not args.resume and directory.is_dir() and any(directory.iterdir()):
        raise ValueError(f"run directory {directory} is not empty; pass --resume to continue it, or another --run-dir")
    return directory


def forecaster_config(args: argparse.Namespace, data: ForecastData) -> ForecasterConfig:
    """The model of ``args`` for the columns and horizon of ``data``."""
    backbone = TitansConfig(
        variant=args.model,
        d_model=args.d_model,
        n_layers=args.n_layers,
        n_heads=args.n_heads,
        memory_depth=args.memory_depth,
        memory_expansion=args.memory_expansion,
        chunk_size=args.chunk_size,
        segment_size=args.segment_size,
        window=args.window,
        n_persistent=args.n_persistent,
        dropout=args.dropout,
    )
    return ForecasterConfig(
        lookback=data.lookback,
        horizon=data.horizon,
        n_inputs=len(data.columns),
        out_index=None if data.out_columns == data.columns else tuple(data.out_index),
        patch_len=args.patch_len,
        stride=args.stride,
        channels=args.channels,
        revin=args.revin,
        revin_affine=args.revin_affine,
        head_dropout=args.head_dropout,
        backbone=backbone,
    )


def train_settings(args: argparse.Namespace) -> TrainSettings:
    """The training options of ``args`` (of Titans; DLinear takes --baseline-lr instead of --lr)."""
    return TrainSettings(
        lr=args.lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        patience=args.patience,
        loss=args.loss,
        max_train_batches=args.max_train_batches,
        device=args.device,
        lr_schedule=args.lr_schedule,
    )


def plan(args: argparse.Namespace, parser_options: dict[str, Any]) -> list[Job]:
    """Read and check everything before training: the data of every horizon, the model and training configs, the
    run folder. DataError / ValueError for bad input."""
    settings = train_settings(args)
    baseline_settings = dataclasses.replace(settings, lr=args.baseline_lr)
    if args.covariates and not args.target:
        raise ValueError("--covariates needs --target (the column to forecast)")
    path = Path(args.data) if args.data else resolve_dataset(args.dataset or DEFAULT_DATASET, args.data_dir)
    dataset = dataset_name(path)
    columns = [*args.covariates, args.target] if args.covariates else None
    table = load_table(path, args.date_col, args.nan_policy, columns)
    horizons = list(dict.fromkeys(h for value in args.horizon for h in value))
    directory = run_directory(args, dataset)
    jobs = []
    for horizon in horizons:
        data = prepare_forecast(table, args.lookback, horizon, args.features, args.target)
        options = {**parser_options, "horizon": horizon}
        config = forecaster_config(args, data)
        jobs.append(Job(dataset, path, data, config, settings, baseline_settings, options, directory / f"H{horizon}"))
    return jobs


def test_metrics(data: ForecastData, predictions: np.ndarray, prefix: str = "") -> dict[str, float]:
    """MSE and MAE of ``predictions`` against every test window, scaled and in the data's units (``_original``)."""
    targets = np.stack([y.numpy() for _, y in data.windows("test")])
    original = (data.inverse_transform(targets), data.inverse_transform(predictions))
    pairs = {"": (targets, predictions), "_original": original}
    metrics = {}
    for suffix, (actual, forecast) in pairs.items():
        metrics[f"{prefix}test_mse{suffix}"] = float(mean_squared_error(actual.reshape(-1), forecast.reshape(-1)))
        metrics[f"{prefix}test_mae{suffix}"] = float(mean_absolute_error(actual.reshape(-1), forecast.reshape(-1)))
    return metrics


def run_job(job: Job, args: argparse.Namespace) -> dict[str, Any]:
    """Train, test and log one horizon; returns its summary (also written to ``<run dir>/H<h>/result.json``)."""
    # Imported here, not at the top, so that ``--help`` and bad-input errors do not wait for Lightning and MLflow.
    import lightning as L
    import mlflow

    from pipelines.tracking import EpochMetrics, file_sha256, flat_params, git_commit, tracking_uri
    from pipelines.training import fit_and_predict
    from titans_ts.baselines import DLinear
    from titans_ts.forecasting import TitansForecaster

    result_file, id_file = job.directory / "result.json", job.directory / "mlflow_run_id"
    if args.resume and result_file.is_file():
        print(f"{job.dataset} {args.model} H{job.data.horizon}: finished before, kept ({result_file})")
        return json.loads(result_file.read_text())
    data, horizon = job.data, job.data.horizon
    mlflow.set_tracking_uri(tracking_uri(args.tracking_uri))
    mlflow.set_experiment(f"forecast/{job.dataset}")
    run_id = id_file.read_text().strip() if args.resume and id_file.is_file() else None
    with mlflow.start_run(run_id=run_id, run_name=f"{args.model}-L{data.lookback}-H{horizon}") as run:
        if run_id is None:
            job.directory.mkdir(parents=True, exist_ok=True)
            id_file.write_text(run.info.run_id)
            windows = {f"windows_{split}": len(data.windows(split)) for split in ("train", "val", "test")}
            model_params = {f"forecaster.{key}": value for key, value in job.forecaster.to_dict().items()}
            facts = {
                "data_file": str(job.path),
                "columns": data.columns,
                "out_columns": data.out_columns,
                "freq": data.table.freq,
                **windows,
            }
            mlflow.log_params(flat_params({**job.options, **model_params, **facts}))
            mlflow.set_tags(
                {
                    "git_commit": git_commit(),
                    "data_sha256": file_sha256(job.path),
                    "model": args.model,
                    "dataset": job.dataset,
                    "horizon": str(horizon),
                    "baseline": "dlinear",
                }
            )
            mlflow.log_dict({k: v for k, v in job.options.items() if k not in RUN_ONLY}, "config.yaml")
            if args.config:
                mlflow.log_artifact(args.config, "config_file")
        run_id = run.info.run_id
        L.seed_everything(args.seed, workers=True)
        model = TitansForecaster(job.forecaster)
        titans = fit_and_predict(
            model, data, job.settings, job.directory / "titans", args.resume, [EpochMetrics(run_id)]
        )
        L.seed_everything(args.seed, workers=True)
        baseline = DLinear(data.lookback, horizon, len(data.columns), job.forecaster.out_index)
        dlinear_callbacks = [EpochMetrics(run_id, "baseline_")]
        dlinear = fit_and_predict(
            baseline, data, job.baseline_settings, job.directory / "dlinear", args.resume, dlinear_callbacks
        )
        metrics = {
            **test_metrics(data, titans.predictions),
            **test_metrics(data, dlinear.predictions, "baseline_"),
            "best_val_mse": titans.val_mse,
            "baseline_best_val_mse": dlinear.val_mse,
            "epochs": titans.epochs,
            "baseline_epochs": dlinear.epochs,
            "train_seconds": titans.seconds,
            "baseline_train_seconds": dlinear.seconds,
        }
        mlflow.log_metrics(metrics)
        mlflow.log_figure(forecast_figure(job, titans.predictions, dlinear.predictions), "forecast_vs_actual.png")
        log_model(model, data)
    result = {
        "dataset": job.dataset,
        "model": args.model,
        "horizon": horizon,
        "lookback": data.lookback,
        "test_mse": metrics["test_mse"],
        "test_mae": metrics["test_mae"],
        "val_mse": titans.val_mse,
        "baseline_test_mse": metrics["baseline_test_mse"],
        "baseline_test_mae": metrics["baseline_test_mae"],
        "test_mse_original": metrics["test_mse_original"],
        "test_mae_original": metrics["test_mae_original"],
        "epochs": titans.epochs,
        "train_seconds": round(titans.seconds, 1),
        "mlflow_run_id": run_id,
    }
    result_file.write_text(json.dumps(result, indent=2))
    return result


def forecast_figure(job: Job, titans: np.ndarray, dlinear: np.ndarray) -> Any:
    """Three test windows (first, middle, last) of up to three forecast channels (the target first), own units."""
    from dashboards.forecasts import plot_forecasts

    data = job.data
    test = data.windows("test")
    windows = sorted({0, len(test) // 2, len(test) - 1})
    channels = list(range(len(data.out_columns)))[::-1][:3]
    history = np.stack([test[i][0].numpy()[:, data.out_index] for i in windows])
    actual = np.stack([test[i][1].numpy() for i in windows])
    picked = {"Titans": titans[windows], "DLinear": dlinear[windows]}
    return plot_forecasts(
        data.inverse_transform(history)[..., channels],
        data.inverse_transform(actual)[..., channels],
        {name: data.inverse_transform(values)[..., channels] for name, values in picked.items()},
        [data.out_columns[c] for c in channels],
        windows,
        title=f"{job.dataset}, {job.options['model']}, L={data.lookback}, H={data.horizon}",
    )


def log_model(model: torch.nn.Module, data: ForecastData) -> None:
    """Log ``model`` (CPU, eval mode) as a ``torch.export`` program with any batch size, which loads without titans-ts;
    two test windows are its input example, from which MLflow infers the signature."""
    import mlflow.pytorch

    example = np.stack([data.windows("test")[i][0].numpy() for i in (0, 1)])
    mlflow.pytorch.log_model(
        model.cpu().eval(),
        name="model",
        input_example=example,
        serialization_format="pt2",
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
    )


def run_forecast(args: argparse.Namespace) -> int:
    """The ``forecast`` subcommand: plan every horizon, then train, test and log them one by one."""
    parser_options = {key: value for key, value in vars(args).items() if key not in ("func", "presets", "command")}
    try:
        jobs = plan(args, parser_options)
    except (DataError, ValueError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    results = []
    for job in jobs:
        results.append(run_job(job, args))
        if args.summary_json:
            Path(args.summary_json).write_text(json.dumps(results, indent=2))
        r = results[-1]
        print(
            f"{r['dataset']} {r['model']} L={r['lookback']} H={r['horizon']}: test MSE {r['test_mse']:.4f} "
            f"MAE {r['test_mae']:.4f} | DLinear MSE {r['baseline_test_mse']:.4f} MAE {r['baseline_test_mae']:.4f} | "
            f"{r['epochs']} epochs, {r['train_seconds']:.0f} s | MLflow run {r['mlflow_run_id']}"
        )
    return 0
