"""Tune a pipeline with Optuna: TPE (or random) sampling, median or Hyperband pruning on the per-epoch validation
score, every trial a nested MLflow run under one parent run per study.

The study lives in --storage (default: the local sqlite file optuna.db). Several processes, or machines, that name
the same --study-name and a shared storage (postgresql://user:password@host/db) tune one study together; --workers N
starts N local processes. --trials is the number of trials this command runs, split over its workers. The parent
run gets the best parameters and value and Optuna's optimisation-history and parameter-importance figures;
--best-to writes the best configuration as a config file that the pipeline's own --config runs again.

What a trial is scored by, and what the pruner watches every epoch: forecast, the validation MSE (minimised) of the
first --horizon; classify, the validation MCC (Matthews correlation) of the Titans classifier (maximised; the same
metric picks the tested checkpoint of ``titans-ts classify``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from genomics.fit import MONITOR, fit_classifier
from pipelines import classify, forecast
from pipelines.config_file import read_config
from pipelines.options import RUN_ONLY
from pipelines.search_space import CLASSIFY_SPACE, FORECAST_SPACE, merge_space, suggest
from titans_ts.errors import DataError

if TYPE_CHECKING:
    import lightning as L

    from titans_ts.training.fit import FitResult

DEFAULT_STORAGE = "sqlite:///optuna.db"
# Where --storage comes from when not given: local workers get it so, never in a file or on a command line (a
# PostgreSQL URL holds a password).
STORAGE_ENV = "TITANS_TS_STORAGE"
TUNE_ONLY = (
    "trials",
    "timeout",
    "study_name",
    "storage",
    "sampler",
    "pruner",
    "search_space",
    "best_to",
    "workers",
    "worker_index",
    "heartbeat",
)
PARENT_RUN_KEY = "mlflow_parent_run_id"


@dataclass(frozen=True)
class TrialJob:
    """One planned run of a pipeline: ``study`` (the default study name), ``experiment`` (of the parent run),
    ``params`` (the run's options) and ``fit`` (builds the Titans model, then trains it with these callbacks)."""

    study: str
    experiment: str
    params: dict[str, Any]
    fit: Callable[[list[L.Callback]], FitResult]


def forecast_job(args: argparse.Namespace, options: dict[str, Any]) -> TrialJob:
    """The first --horizon of ``titans-ts forecast`` with ``args``, scored by its best validation MSE."""
    from titans_ts.forecasting.model import TitansForecastNet
    from titans_ts.forecasting.task import fit_forecaster

    job = forecast.plan(args, options)[0]
    return TrialJob(
        f"forecast-{job.dataset}-H{job.data.horizon}",
        f"tune/forecast/{job.dataset}",
        job.options,
        lambda callbacks: fit_forecaster(
            TitansForecastNet(job.forecaster), job.data, job.settings, job.directory, callbacks=callbacks, test=False
        ),
    )


def classify_job(args: argparse.Namespace, options: dict[str, Any]) -> TrialJob:
    """The Titans classifier of ``titans-ts classify`` with ``args`` (no CNN), scored by its best validation
    MCC."""
    from genomics.model import TitansClassifierNet

    job = classify.plan(args, options)
    vocab, n_classes = job.data.tokenizer.vocab_size, len(job.data.classes)
    return TrialJob(
        f"classify-{job.dataset}",
        f"tune/classify/{job.dataset}",
        job.options,
        lambda callbacks: fit_classifier(
            TitansClassifierNet(vocab, n_classes, job.backbone, args.pooling), job.data, job.settings, job.directory,
            callbacks=callbacks, test=False, **job.strands,
        ),
    )  # fmt: skip


@dataclass(frozen=True)
class Tunable:
    """A pipeline as ``tune`` sees it: its ``module`` (``add_arguments``), default search ``space``, the per-epoch
    validation ``metric`` and its ``direction``, how a trial's run is planned (``job``), and the help texts."""

    module: ModuleType
    space: dict[str, Any]
    metric: str
    direction: str
    job: Callable[[argparse.Namespace, dict[str, Any]], TrialJob]
    summary: str
    examples: str


PIPELINES = {
    "forecast": Tunable(
        forecast,
        FORECAST_SPACE,
        "val_mse",
        "minimize",
        forecast_job,
        "tune the forecasting pipeline (validation MSE of the first --horizon)",
        "  titans-ts tune forecast --trials 20 --epochs 5 --max-train-batches 100\n"
        "  titans-ts tune forecast --storage postgresql://titans:secret@db/optuna --study-name etth1 --workers 4\n"
        "  titans-ts tune forecast --search-space space.yaml --best-to best.yaml\n"
        "  titans-ts forecast --config best.yaml",
    ),
    "classify": Tunable(
        classify,
        CLASSIFY_SPACE,
        MONITOR,
        "maximize",
        classify_job,
        "tune the genomic classification pipeline (validation MCC of the Titans classifier)",
        "  titans-ts tune classify --quick --trials 10 --best-to best.yaml\n"
        "  titans-ts tune classify --dataset gue_tf_0 --trials 30 --epochs 5 --pruner hyperband\n"
        "  titans-ts classify --config best.yaml",
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``tune <pipeline>`` subcommands: the pipeline's own options plus the tuning options."""
    sub = parser.add_subparsers(dest="pipeline", title="pipelines", metavar="PIPELINE", required=True)
    for name, tunable in PIPELINES.items():
        command = sub.add_parser(
            name, help=tunable.summary, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        tunable.module.add_arguments(command)
        command.epilog = f"examples:\n{tunable.examples}"
        add_tuning_arguments(command, tunable)
        command.set_defaults(func=run_tune, subcommand=name)


def add_tuning_arguments(command: argparse.ArgumentParser, tunable: Tunable) -> None:
    """Register the tuning options of ``tune <pipeline>`` on ``command``."""
    objective = f"{tunable.metric} ({tunable.direction}d)"
    tune = command.add_argument_group("tuning")
    tune.add_argument(
        "--trials", type=int, default=20, help="trials this command runs, over its workers (default: %(default)s)"
    )
    tune.add_argument("--timeout", type=float, metavar="SECONDS", help="stop starting trials after this long")
    tune.add_argument(
        "--study-name",
        help="the Optuna study (default: <pipeline>-<dataset>, and -H<horizon> for forecast); "
        "workers with the same name and storage share it",
    )
    tune.add_argument(
        "--storage",
        metavar="URL",
        help=f"Optuna storage: sqlite:///file.db or postgresql://user:password@host:port/db (default: ${STORAGE_ENV}, "
        f"else {DEFAULT_STORAGE})",
    )
    tune.add_argument("--sampler", choices=("tpe", "random"), default="tpe", help="(default: %(default)s)")
    tune.add_argument(
        "--pruner",
        choices=("median", "hyperband", "none"),
        default="median",
        help=f"stop unpromising trials early on their per-epoch {objective} (default: %(default)s)",
    )
    tune.add_argument(
        "--search-space",
        metavar="PATH",
        help="YAML/TOML file of distributions or fixed values per option, merged over the default "
        f"space ({', '.join(tunable.space)})",
    )
    tune.add_argument("--best-to", metavar="PATH", help="write the best configuration here (.yaml or .toml)")
    tune.add_argument(
        "--workers", type=int, default=1, help="local worker processes sharing the study (default: %(default)s)"
    )
    tune.add_argument(
        "--heartbeat",
        type=int,
        default=30,
        metavar="SECONDS",
        help="with a database storage, each worker's running trial beats this often; a trial that misses beats for "
        "3 × SECONDS (its worker killed, its machine lost) is marked failed by the other workers, its MLflow run "
        "too (default: %(default)s)",
    )
    tune.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)


def make_sampler(name: str, seed: int) -> Any:
    """TPE or random sampling, seeded (each worker gets its own seed so workers do not repeat each other)."""
    import optuna

    return optuna.samplers.TPESampler(seed=seed) if name == "tpe" else optuna.samplers.RandomSampler(seed=seed)


def make_storage(url: str, heartbeat: int) -> Any:
    """The Optuna storage of ``url``: a database (sqlite, PostgreSQL, MySQL) with a heartbeat every ``heartbeat`` s
    and a grace period of three beats, after which the other workers mark a silent trial failed (``stale_trial``);
    any other URL as Optuna reads it."""
    import optuna

    if not url.startswith(("sqlite:", "postgresql", "mysql")):
        return url
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=heartbeat, grace_period=3 * heartbeat, heartbeat_stale_trial_callback=stale_trial
        )


def stale_trial(study: Any, trial: Any) -> None:
    """Optuna's callback for a trial whose worker stopped beating (now FAIL): its MLflow run ends FAILED too."""
    import mlflow

    run_id = trial.user_attrs.get("mlflow_run_id")
    if run_id:
        client = mlflow.MlflowClient()
        client.set_tag(run_id, "optuna.state", "FAIL")
        client.set_terminated(run_id, "FAILED")


def make_pruner(name: str, max_epochs: int) -> Any:
    """Median pruning after 3 finished trials and 1 epoch, Hyperband over the epochs, or none."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(max_epochs, 1))
    return optuna.pruners.NopPruner()


def worker_command(pipeline: str, config: Path, index: int, trials: int) -> list[str]:
    """The command line of local worker ``index``: every option of this command (in ``config``), its trials."""
    share = ["--workers", "1", "--worker-index", str(index), "--trials", str(trials)]
    return [sys.executable, "-m", "pipelines", "tune", pipeline, "--config", str(config), *share]


def parent_run(study: Any, experiment: str) -> str:
    """The MLflow parent run of ``study`` (created once and remembered in the study's user attributes)."""
    import mlflow

    from titans_ts.training.tracking import experiment_id

    run_id = study.user_attrs.get(PARENT_RUN_KEY)
    if run_id:
        return run_id
    run = mlflow.MlflowClient().create_run(
        experiment_id(experiment), run_name=f"study-{study.study_name}", tags={"optuna.study": study.study_name}
    )
    study.set_user_attr(PARENT_RUN_KEY, run.info.run_id)
    return run.info.run_id


def objective(args: argparse.Namespace, space: dict[str, Any], options: dict[str, Any], parent: str, study_dir: Path):
    """The Optuna objective: one run of the pipeline on the trial's options, scored by its best validation metric."""
    import lightning as L
    import mlflow
    import optuna
    from optuna_integration import PyTorchLightningPruningCallback

    from titans_ts.training.tracking import EpochMetrics, flat_params

    metric = PIPELINES[args.pipeline].metric

    def run(trial: optuna.Trial) -> float:
        values = suggest(trial, space)
        trial_args = argparse.Namespace(**{**vars(args), **values})
        trial_args.run_dir, trial_args.resume = str(study_dir / f"trial-{trial.number}"), False
        job = PIPELINES[args.pipeline].job(trial_args, {**options, **values})
        mlflow_run = mlflow.start_run(run_name=f"trial-{trial.number}", parent_run_id=parent)
        run_id = mlflow_run.info.run_id
        mlflow.log_params(flat_params({**job.params, "trial": trial.number}))
        mlflow.set_tags({"optuna.study": trial.study.study_name, "optuna.trial": str(trial.number)})
        trial.set_user_attr("mlflow_run_id", run_id)  # for ``stale_trial``, if this worker dies
        trial.set_user_attr("worker", args.worker_index)
        L.seed_everything(trial_args.seed, workers=True, verbose=False)
        try:
            fitted = job.fit([EpochMetrics(run_id), PyTorchLightningPruningCallback(trial, monitor=metric)])
        except optuna.TrialPruned:
            mlflow.set_tag("optuna.state", "PRUNED")
            mlflow.end_run(status="KILLED")
            raise
        except BaseException:
            mlflow.set_tag("optuna.state", "FAIL")
            mlflow.end_run(status="FAILED")
            raise
        mlflow.log_metric(f"best_{metric}", fitted.score)
        mlflow.set_tag("optuna.state", "COMPLETE")
        mlflow.end_run()
        return fitted.score

    return run


def summarise(
    study: Any, parent: str, metric: str, space: dict[str, Any], options: dict[str, Any], best_to: str | None
) -> None:
    """Best parameters, value and Optuna's figures on the parent run; the best configuration to ``best_to``."""
    import matplotlib

    matplotlib.use("Agg")
    import mlflow
    import optuna
    from optuna.visualization import matplotlib as plots

    from titans_ts.training.tracking import flat_params

    states = [t.state for t in study.trials]
    counts = {state.name.lower(): states.count(state) for state in optuna.trial.TrialState}
    client = mlflow.MlflowClient()
    for name, count in counts.items():
        client.log_metric(parent, f"trials_{name}", count)
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        print("titans-ts tune: no trial completed; nothing to summarise")
        return
    best = study.best_trial
    for key, value in flat_params({f"best.{k}": v for k, v in best.params.items()}).items():
        client.set_tag(parent, key, value)  # tags, not params: later workers may find a better trial
    client.log_metric(parent, f"best_{metric}", best.value)
    client.set_tag(parent, "best_trial", str(best.number))
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    for name, plot in (
        ("optimization_history", plots.plot_optimization_history),
        ("param_importances", plots.plot_param_importances),
    ):
        try:
            figure = plot(study).figure
        except (ValueError, RuntimeError, ZeroDivisionError) as err:  # e.g. importances need 2+ varied trials
            print(f"titans-ts tune: {name} figure skipped: {err}")
            continue
        client.log_figure(parent, figure, f"{name}.png")
    client.set_terminated(parent)
    if best_to:
        fixed = {name: spec for name, spec in space.items() if not isinstance(spec, Mapping)}
        write_config(best_to, {**options, **fixed, **best.params})
    print(
        f"study {study.study_name}: best trial {best.number}, {metric} {best.value:.4f}, params {best.params}; "
        + ", ".join(f"{count} {name}" for name, count in counts.items() if count)
    )


def write_config(path: str | Path, options: dict[str, Any], keep: set[str] | frozenset[str] = frozenset()) -> None:
    """``options`` as a config file for the pipeline's --config (.toml, else YAML); tuning and run-location options
    are left out unless named in ``keep``."""
    import yaml

    dropped = set(TUNE_ONLY) | set(RUN_ONLY) | {"quick"}
    kept = {k: v for k, v in options.items() if k in keep or k not in dropped}
    if kept.get("data"):  # --data and --dataset exclude each other; --dataset only holds its default here
        kept.pop("dataset", None)
    target = Path(path)
    if target.suffix.lower() == ".toml":
        lines = [f"{key} = {toml_value(value)}" for key, value in kept.items() if value is not None]
        target.write_text("\n".join(lines) + "\n")
    else:
        target.write_text(yaml.safe_dump(kept, sort_keys=True))


def toml_value(value: Any) -> str:
    """A TOML literal for a config value (bool, number, string or list of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def prepare(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any], TrialJob]:
    """The pipeline options of ``args``, the search space, and a planned run (data read and checked).
    DataError / ValueError for bad input."""
    for name in ("trials", "workers"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be ≥ 1, got {getattr(args, name)}")
    options = {
        key: flat(value)
        for key, value in vars(args).items()
        if key not in ("func", "presets", "command", "pipeline", "subcommand", *TUNE_ONLY)
    }
    tunable = PIPELINES[args.pipeline]
    overrides = read_config(args.search_space) if args.search_space else {}
    space = merge_space(tunable.space, overrides, args.search_space or "search space")
    unknown = [name for name in space if name not in options]
    if unknown:
        raise ValueError(f"{args.search_space or 'search space'}: not options of {args.pipeline}: {', '.join(unknown)}")
    job = tunable.job(argparse.Namespace(**{**vars(args), "run_dir": None, "resume": False}), options)
    return options, space, job


def flat(value: Any) -> Any:
    """A list of lists (an option with ``nargs`` whose type gives lists, as --horizon all) as one list."""
    if isinstance(value, list) and value and all(isinstance(item, list) for item in value):
        return [item for part in value for item in part]
    return value


def run_tune(args: argparse.Namespace) -> int:
    """The ``tune <pipeline>`` subcommands."""
    args.storage = args.storage or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE
    try:
        options, space, job = prepare(args)
    except (DataError, ValueError) as err:
        print(f"titans-ts tune {args.pipeline}: error: {err}", file=sys.stderr)
        return 2
    import mlflow
    import optuna

    from titans_ts.training.tracking import tracking_uri

    tunable = PIPELINES[args.pipeline]
    study_name = args.study_name or job.study
    mlflow.set_tracking_uri(tracking_uri(args.tracking_uri))
    storage = make_storage(args.storage, args.heartbeat)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        load_if_exists=True,
        direction=tunable.direction,
        sampler=make_sampler(args.sampler, args.seed + args.worker_index),
        pruner=make_pruner(args.pruner, args.epochs),
    )
    parent = parent_run(study, job.experiment)
    started = time.strftime("%Y%m%d-%H%M%S")
    study_dir = Path("runs") / "tune" / study_name / f"worker-{args.worker_index}-{started}"
    shares = [args.trials // args.workers + (i < args.trials % args.workers) for i in range(args.workers)]
    workers = []
    if args.workers > 1:
        study_dir.mkdir(parents=True, exist_ok=True)
        shared = {key: getattr(args, key) for key in ("timeout", "sampler", "pruner", "search_space", "heartbeat")}
        secrets = {STORAGE_ENV: args.storage, "MLFLOW_TRACKING_URI": tracking_uri(args.tracking_uri)}
        config = study_dir / "workers.yaml"
        write_config(config, {**options, **shared, "study_name": study_name}, keep=shared.keys() | {"study_name"})
        commands = [worker_command(args.pipeline, config, i, shares[i]) for i in range(1, args.workers)]
        workers = [subprocess.Popen(command, env={**os.environ, **secrets}) for command in commands]
    study.optimize(
        objective(args, space, options, parent, study_dir),
        n_trials=shares[0],
        timeout=args.timeout,
        catch=(RuntimeError,),
        gc_after_trial=True,
    )
    failed = [w.wait() for w in workers]
    for index, code in enumerate(failed, start=1):
        if code:
            print(f"titans-ts tune {args.pipeline}: worker {index} ended with status {code}", file=sys.stderr)
    if args.worker_index == 0:
        if any(failed) and not isinstance(storage, str):
            time.sleep(3 * args.heartbeat)  # the grace period: then the dead worker's trial is stale
            optuna.storages.fail_stale_trials(study)
        study = optuna.load_study(study_name=study_name, storage=storage)
        summarise(study, parent, tunable.metric, space, options, args.best_to)
    return 1 if any(failed) else 0
