"""Train a Titans forecaster and a DLinear baseline (and, with --patchtst, PatchTST) on the same windows, test them,
and log the run to MLflow.

The series is split as Time-Series-Library does (ETTh*: 12/4/4 months; ETTm*: the same in 15-minute rows; any
other file: 70/10/20 % by time), standardised with a scaler fitted on the train rows only, and cut into stride-1
windows of --lookback input and --horizon output steps; every test window is scored (MSE and MAE on the scaled
data, as the protocol reports them, and in the data's own units). Each horizon is one MLflow run in the experiment
"forecast/<dataset>", holding every option as a parameter, per-epoch losses of both models, the test metrics, a
forecast-vs-actual figure, the options as config.yaml, the Titans model, and what the dashboards read
(``pipelines.forecast_artifacts``: test forecasts, the memory's surprise over the test split). With --online the test
split is also read as one stream whose memories keep learning
(``titans_ts.forecasting.online``), scored beside the frozen model and beside online fine-tuning of the frozen-memory
model on the same stream (``titans_ts.forecasting.finetune``, its learning rate chosen on the validation split), with
the time per test window of each.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.options import (
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
from titans_ts.data_dir import default_data_dir
from titans_ts.forecasting.baselines import PATCHTST_LR, DLinear, PatchTST, patchtst_hyperparameters
from titans_ts.forecasting.data import (
    DUPLICATE_POLICIES,
    MISSING_DATE_POLICIES,
    NAN_POLICIES,
    ForecastData,
    load_table,
    prepare_forecast,
    resolve_dataset,
    table_stem,
)
from titans_ts.forecasting.metrics import forecast_errors
from titans_ts.forecasting.model import ForecasterConfig
from titans_ts.training.settings import TrainSettings

PROG = "titans-ts forecast"
HORIZONS = (96, 192, 336, 720)
DEFAULT_DATASET = "ETTh1"
RUNS_ROOT = Path("runs") / "forecast"
# Where this pipeline's defaults differ from the library's (TitansConfig, TrainSettings), by option name.
DEFAULTS = {"dropout": 0.1}
# --quick: horizon 96, a small model and a capped number of batches; config file and flags still override it.
QUICK = {"horizon": [96], "d_model": 32, "n_layers": 1, "epochs": 3, "max_train_batches": 60, "threads": 1}


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
        help=f"a benchmark by name: ETTh1 is bundled, others (ETTh2, ETTm1, ETTm2, weather) are read from "
        f"--data-dir; ETTh* and ETTm* are split 12/4/4 months, every other 70/10/20 %% (default: {DEFAULT_DATASET})",
    )
    data.add_argument(
        "--data-dir",
        metavar="DIR",
        help=f"folder of benchmark files for --dataset (default: {default_data_dir()}, from $TITANS_TS_DATA)",
    )
    data.add_argument(
        "--date-col",
        metavar="NAME",
        help="the date column, or separate ones as year,quarter / year,month / year,month,day (default: the first "
        "named date/datetime/time/timestamp/ds, else year + quarter/month columns, else the first that parses)",
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
        "--date-format",
        metavar="FMT",
        help="strftime format of the date column, e.g. %%d%%m%%Y (default: inferred; quarters 1974Q1, months "
        "1974-01 / Jan 1974, compact 19580329, month names Jan-1-1995, bare years 1871, year + quarter or month "
        "columns are recognised)",
    )
    data.add_argument(
        "--sep",
        metavar="CHAR",
        help="CSV separator (default: detected from the header line among comma, semicolon, tab and |; with any "
        "but a comma, decimal commas such as 1,5 are read as numbers)",
    )
    data.add_argument(
        "--duplicate-dates",
        choices=DUPLICATE_POLICIES,
        help="a timestamp on several rows: error, keep every row, or keep the first of each (default: keep for "
        "--dataset, whose protocol uses every row of the file, error for --data)",
    )
    data.add_argument(
        "--missing-dates",
        choices=MISSING_DATE_POLICIES,
        help="timestamps missing from the dates' regular grid (e.g. a 60-hour hole in an hourly series): error, keep "
        "(read the rows as consecutive), or insert them filled by ffill or interpolate (default: keep for --dataset, "
        "whose protocol uses the rows as they are, error for --data)",
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
    add_backbone_arguments(model, DEFAULTS)
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
    add_switch(model, "--revin", True, "normalise each input window per channel and undo it on the forecast")
    add_switch(model, "--revin-affine", False, "learn a per-channel scale and shift in the instance normalisation")
    model.add_argument("--head-dropout", type=float, default=0.0, help="dropout before the head (default: %(default)s)")
    add_switch(
        model,
        "--linear-skip",
        False,
        "add a linear map of each normalised lookback channel to its horizon (DLinear's linear part) to the forecast",
    )
    train = parser.add_argument_group("training")
    add_training_arguments(train, "DLinear", baseline_lr=5e-3, defaults=DEFAULTS)
    add_switch(
        train,
        "--patchtst",
        False,
        "also train PatchTST (Nie et al. 2023) on the same windows with the same budget as a second peer: its "
        "authors' published encoder for the data set (ETTh*: width 16, others: width 128; 3 layers, patches 16/8)",
    )
    train.add_argument(
        "--patchtst-lr",
        type=float,
        default=PATCHTST_LR,
        help="Adam learning rate of PatchTST (default: %(default)s, its authors' for 100 epochs)",
    )
    evaluation = parser.add_argument_group("evaluation")
    add_switch(
        evaluation,
        "--online",
        False,
        "also replay the test split as one stream whose memories keep memorising (test-time learning, trained "
        "weights frozen) and report its test MSE/MAE beside the frozen model's",
    )
    add_run_arguments(
        parser,
        QUICK,
        "horizon 96, d_model 32, 1 layer, 3 epochs of at most 60 batches, 1 thread",
        find_run,
        "finished horizons are kept, the others continue from their last checkpoint and MLflow run",
        "write the per-horizon results to this JSON file",
    )
    parser.set_defaults(func=run_forecast)


@dataclass
class Job:
    """One (dataset, model, horizon) run: the prepared data, the model configuration, the training settings of Titans,
    of the DLinear baseline and of PatchTST (None: not trained), the options, and the checkpoint folder."""

    dataset: str
    path: Path
    data: ForecastData
    forecaster: ForecasterConfig
    settings: TrainSettings
    baseline_settings: TrainSettings
    patchtst_settings: TrainSettings | None
    options: dict[str, Any]
    directory: Path


def dataset_name(path: Path) -> str:
    """The file name of ``path`` without its data suffix ("ETTh1" for ETTh1.csv.gz)."""
    return table_stem(path) or path.name


def data_path(args: argparse.Namespace) -> Path:
    """--data, else the file of --dataset (default ETTh1) in --data-dir; DataError when it is not there."""
    return Path(args.data) if args.data else resolve_dataset(args.dataset or DEFAULT_DATASET, args.data_dir)


def find_run(args: argparse.Namespace) -> Path:
    """The run folder of ``args`` (``run_directory``: --run-dir, or with --resume the newest of the data set)."""
    return run_directory(args, RUNS_ROOT, dataset_name(data_path(args)))


def forecaster_config(args: argparse.Namespace, data: ForecastData) -> ForecasterConfig:
    """The model of ``args`` for the columns and horizon of ``data``."""
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
        linear_skip=args.linear_skip,
        backbone=backbone_config(args),
    )


def plan(args: argparse.Namespace, parser_options: dict[str, Any]) -> list[Job]:
    """Read and check everything before training: the data of every horizon, the model and training configs, the
    run folder. DataError / ValueError for bad input."""
    settings = train_settings(args)
    baseline_settings = dataclasses.replace(settings, lr=args.baseline_lr, train_online=0)  # DLinear has no memory
    patchtst_settings = dataclasses.replace(settings, lr=args.patchtst_lr, train_online=0) if args.patchtst else None
    if args.covariates and not args.target:
        raise ValueError("--covariates needs --target (the column to forecast)")
    if args.target and args.features == "M":
        raise ValueError(
            f"--target {args.target} needs --features S (the target alone) or MS (every column in, the target out); "
            "with M every column is forecast"
        )
    path = data_path(args)
    dataset = dataset_name(path)
    columns = [*args.covariates, args.target] if args.covariates else None
    duplicates = args.duplicate_dates or ("error" if args.data else "keep")
    missing = args.missing_dates or ("error" if args.data else "keep")
    reading = {"date_format": args.date_format, "sep": args.sep}
    reading.update(duplicate_dates=duplicates, missing_dates=missing)
    table = load_table(path, args.date_col, args.nan_policy, columns, **reading)
    horizons = list(dict.fromkeys(h for value in args.horizon for h in value))
    directory = run_directory(args, RUNS_ROOT, dataset)
    jobs = []
    for horizon in horizons:
        data = prepare_forecast(table, args.lookback, horizon, args.features, args.target)
        options = {**parser_options, "horizon": horizon}
        config = forecaster_config(args, data)
        settings_of = (settings, baseline_settings, patchtst_settings)
        jobs.append(Job(dataset, path, data, config, *settings_of, options, directory / f"H{horizon}"))
    return jobs


def store_options(jobs: list[Job]) -> None:
    """Keep the options of the run (every horizon of ``jobs``) in its folder, for --resume."""
    horizons = [job.data.horizon for job in jobs]
    store_run_options(jobs[0].directory.parent, {**jobs[0].options, "horizon": horizons})


def test_metrics(data: ForecastData, predictions: np.ndarray, prefix: str = "") -> dict[str, float]:
    """MSE and MAE of ``predictions`` against every test window, scaled and in the data's units (``_original``)."""
    targets = data.targets("test")
    original = (data.inverse_transform(predictions), data.inverse_transform(targets))
    pairs = {"": (predictions, targets), "_original": original}
    return {
        f"{prefix}test_{name}{suffix}": value
        for suffix, (forecasts, actual) in pairs.items()
        for name, value in forecast_errors(forecasts, actual).items()
    }


def run_job(job: Job, args: argparse.Namespace) -> dict[str, Any]:
    """Train, test and log one horizon; returns its summary (also written to ``<run dir>/H<h>/result.json``)."""
    # Imported here, not at the top, so that ``--help`` and bad-input errors do not wait for Lightning and MLflow.
    import lightning as L
    import mlflow

    from pipelines.artifacts import FORECASTS, LIVE_MODEL, TRACE
    from pipelines.forecast_artifacts import write_forecasts, write_trace
    from pipelines.tracking import log_model, start_job_run
    from titans_ts.forecasting.finetune import choose_finetune_lr
    from titans_ts.forecasting.live import LiveModel
    from titans_ts.forecasting.model import ForecastOnly, TitansForecastNet
    from titans_ts.forecasting.online import compare_online
    from titans_ts.forecasting.task import fit_forecaster
    from titans_ts.training.tracking import EpochMetrics, file_sha256, memory_steps, tracking_uri

    result_file = job.directory / "result.json"
    if args.resume and result_file.is_file():
        print(f"{job.dataset} {args.model} H{job.data.horizon}: finished before, kept ({result_file})")
        return json.loads(result_file.read_text())
    started = time.perf_counter()
    data, horizon = job.data, job.data.horizon
    windows = {f"windows_{split}": len(data.windows(split)) for split in ("train", "val", "test")}
    model_params = {f"forecaster.{key}": value for key, value in job.forecaster.to_dict().items()}
    facts = {
        "data_file": str(job.path),
        "columns": data.columns,
        "out_columns": data.out_columns,
        "freq": data.table.freq,
        "date_format_read": data.table.date_format,
        **windows,
    }
    tags = {
        "data_sha256": file_sha256(job.path),
        "model": args.model,
        "dataset": job.dataset,
        "horizon": str(horizon),
        "baseline": "dlinear",
        **({"peer": "patchtst"} if job.patchtst_settings else {}),
    }
    mlflow.set_tracking_uri(tracking_uri(args.tracking_uri))
    with start_job_run(
        job.directory,
        f"forecast/{job.dataset}",
        f"{args.model}-L{data.lookback}-H{horizon}",
        args.resume,
        {**job.options, **model_params, **facts},
        tags,
        job.options,
        args.config,
    ) as run:
        run_id = run.info.run_id
        L.seed_everything(args.seed, workers=True, verbose=False)
        model = TitansForecastNet(job.forecaster)
        titans_callbacks = [EpochMetrics(run_id)]
        titans = fit_forecaster(model, data, job.settings, job.directory / "titans", args.resume, titans_callbacks)
        L.seed_everything(args.seed, workers=True, verbose=False)
        baseline = DLinear(data.lookback, horizon, len(data.columns), job.forecaster.out_index)
        dlinear_callbacks = [EpochMetrics(run_id, "baseline_")]
        dlinear = fit_forecaster(
            baseline, data, job.baseline_settings, job.directory / "dlinear", args.resume, dlinear_callbacks
        )
        metrics = {
            **test_metrics(data, titans.predictions),
            **test_metrics(data, dlinear.predictions, "baseline_"),
            "best_val_mse": titans.score,
            "baseline_best_val_mse": dlinear.score,
            "epochs": titans.epochs,
            "baseline_epochs": dlinear.epochs,
            "train_seconds": titans.seconds,
            "baseline_train_seconds": dlinear.seconds,
        }
        predictions = {"titans": titans.predictions, "dlinear": dlinear.predictions}
        if job.patchtst_settings:
            L.seed_everything(args.seed, workers=True, verbose=False)
            peer = PatchTST(
                data.lookback, horizon, len(data.columns), job.forecaster.out_index,
                **patchtst_hyperparameters(job.dataset),
            )  # fmt: skip
            patchtst = fit_forecaster(
                peer, data, job.patchtst_settings, job.directory / "patchtst", args.resume,
                [EpochMetrics(run_id, "patchtst_")],
            )  # fmt: skip
            metrics.update(test_metrics(data, patchtst.predictions, "patchtst_"))
            metrics.update(
                patchtst_best_val_mse=patchtst.score,
                patchtst_epochs=patchtst.epochs,
                patchtst_train_seconds=patchtst.seconds,
            )
            predictions["patchtst"] = patchtst.predictions
        if args.online:
            # The fine-tuning baseline's learning rate: the best of a grid on the validation split read online.
            finetune_lr, finetune_scores = choose_finetune_lr(model, data.scaled["val"], data.targets("val"))
            comparison = compare_online(model, data, "test", finetune_lr=finetune_lr)
            online = comparison.metrics()
            metrics.update(online_test_mse=online["online_mse"], online_test_mae=online["online_mae"])
            metrics.update(finetune_test_mse=online["finetune_mse"], finetune_test_mae=online["finetune_mae"])
            metrics.update(finetune_lr=finetune_lr, finetune_val_mse=finetune_scores[finetune_lr])
            for name, seconds in comparison.seconds_per_window.items():
                metrics[f"{name}_seconds_per_window"] = seconds
            diverged = comparison.diverged_at()
            if diverged is not None:
                metrics["online_diverged_window"] = diverged
                when = data.dates("test")[diverged + data.lookback]
                print(
                    f"{PROG}: warning: {job.dataset} H{horizon}: the online memory diverged (non-finite forecasts "
                    f"from test window {diverged}, forecast start {when}); online MSE/MAE are NaN",
                    file=sys.stderr,
                )
            predictions["titans_online"] = comparison.online
            predictions["titans_finetune"] = comparison.finetuned
        mlflow.log_metrics(metrics)
        mlflow.log_figure(forecast_figure(job, predictions), "forecast_vs_actual.png")
        write_forecasts(job.directory / FORECASTS, data, predictions)
        write_trace(job.directory / TRACE, model, data)
        mlflow.log_artifact(str(job.directory / FORECASTS))
        mlflow.log_artifact(str(job.directory / TRACE))
        steps = memory_steps(job.forecaster.backbone, job.forecaster.n_patches)
        moments = (data.scaler.mean_, data.scaler.scale_)
        live = LiveModel.from_training(model, data.columns, data.out_columns, data.table.dates, moments)
        live.save(job.directory / LIVE_MODEL)
        log_model(PROG, ForecastOnly(model), data.inputs("test")[:2], steps, [job.directory / LIVE_MODEL])
    result = {
        "dataset": job.dataset,
        "model": args.model,
        "horizon": horizon,
        "lookback": data.lookback,
        "test_mse": metrics["test_mse"],
        "test_mae": metrics["test_mae"],
        "val_mse": titans.score,
        "baseline_test_mse": metrics["baseline_test_mse"],
        "baseline_test_mae": metrics["baseline_test_mae"],
        "test_mse_original": metrics["test_mse_original"],
        "test_mae_original": metrics["test_mae_original"],
        "epochs": titans.epochs,
        "train_seconds": round(titans.seconds, 1),
        "baseline_train_seconds": round(dlinear.seconds, 1),
        "mlflow_run_id": run_id,
    }
    if job.patchtst_settings:
        peer_keys = ("test_mse", "test_mae", "best_val_mse", "epochs")
        result.update({f"patchtst_{key}": metrics[f"patchtst_{key}"] for key in peer_keys})
        result["patchtst_train_seconds"] = round(metrics["patchtst_train_seconds"], 1)
    if args.online:
        result.update(online_test_mse=metrics["online_test_mse"], online_test_mae=metrics["online_test_mae"])
        result["online_diverged_window"] = metrics.get("online_diverged_window")
        for key in ("finetune_test_mse", "finetune_test_mae", "finetune_lr", "finetune_val_mse"):
            result[key] = metrics[key]
        result["finetune_val_mse_by_lr"] = {str(lr): mse for lr, mse in finetune_scores.items()}
        for name in ("frozen", "online", "finetune"):
            result[f"{name}_seconds_per_window"] = metrics[f"{name}_seconds_per_window"]
    result["job_seconds"] = round(time.perf_counter() - started, 1)  # training, testing and logging, all models
    result_file.write_text(json.dumps(result, indent=2))
    return result


def forecast_figure(job: Job, predictions: dict[str, np.ndarray]) -> Any:
    """Three test windows (first, middle, last) of up to three forecast channels (the target first), own units, with
    the forecasts of Titans and its peers (``predictions`` by model: "titans", "dlinear", "patchtst")."""
    from pipelines.figures import plot_forecasts

    data = job.data
    actual = data.targets("test")
    windows = sorted({0, len(actual) // 2, len(actual) - 1})
    channels = list(range(len(data.out_columns)))[::-1][:3]
    history, actual = data.inputs("test")[windows][..., data.out_index], actual[windows]
    names = {"titans": "Titans", "dlinear": "DLinear", "patchtst": "PatchTST"}
    picked = {names[key]: values[windows] for key, values in predictions.items() if key in names}
    return plot_forecasts(
        data.inverse_transform(history)[..., channels],
        data.inverse_transform(actual)[..., channels],
        {name: data.inverse_transform(values)[..., channels] for name, values in picked.items()},
        [data.out_columns[c] for c in channels],
        windows,
        title=f"{job.dataset}, {job.options['model']}, L={data.lookback}, H={data.horizon}",
    )


def run_forecast(args: argparse.Namespace) -> int:
    """The ``forecast`` subcommand: plan every horizon, then train, test and log them one by one."""
    jobs = plan_or_report(PROG, plan, args)
    if jobs is None:
        return 2
    if not args.resume:
        store_options(jobs)
    from mlflow.exceptions import MlflowException  # here: bad input is reported before MLflow and Lightning load

    from pipelines.tracking import tracking_error
    from titans_ts.training.fit import FitError

    results = []
    for job in jobs:
        try:
            results.append(run_job(job, args))
        except FitError as err:
            print(f"{PROG}: error: {job.dataset} H{job.data.horizon}: {err}", file=sys.stderr)
            return 1
        except MlflowException as err:
            print(tracking_error(PROG, err, args.tracking_uri, job.directory.parent), file=sys.stderr)
            return 1
        except Stopped as stop:
            stop.resume = f"continue with: {PROG} --resume --run-dir {job.directory.parent}"
            raise
        if args.summary_json:
            Path(args.summary_json).write_text(json.dumps(results, indent=2))
        r = results[-1]
        peer = ""
        if "patchtst_test_mse" in r:
            peer = f"PatchTST MSE {r['patchtst_test_mse']:.4f} MAE {r['patchtst_test_mae']:.4f} | "
        print(
            f"{r['dataset']} {r['model']} L={r['lookback']} H={r['horizon']}: test MSE {r['test_mse']:.4f} "
            f"MAE {r['test_mae']:.4f} | DLinear MSE {r['baseline_test_mse']:.4f} MAE {r['baseline_test_mae']:.4f} | "
            f"{peer}{r['epochs']} epochs, {r['train_seconds']:.0f} s | MLflow run {r['mlflow_run_id']}"
        )
        if "finetune_test_mse" in r:
            ms = {name: 1000 * r[f"{name}_seconds_per_window"] for name in ("frozen", "online", "finetune")}
            print(
                f"  test MSE | frozen {r['test_mse']:.4f} ({ms['frozen']:.2f} ms/window) | online memory "
                f"{r['online_test_mse']:.4f} ({ms['online']:.2f} ms/window) | online fine-tuning "
                f"{r['finetune_test_mse']:.4f} (lr {r['finetune_lr']:g}, {ms['finetune']:.2f} ms/window)"
            )
        elif "online_test_mse" in r:  # a result.json from before the fine-tuning baseline
            print(f"  online memory: test MSE {r['online_test_mse']:.4f} MAE {r['online_test_mae']:.4f} (frozen above)")
    print(f"serve the last model: {PROG.split()[0]} serve --model-uri runs:/{results[-1]['mlflow_run_id']}/model")
    return 0
