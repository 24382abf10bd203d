"""Pipelines: the command-line entry points ``forecast``, ``classify`` and ``tune``.

Holds their MLflow run tracking and Optuna hyper-parameter search wiring. Empty for now; filled
when those jobs are added as ``titans-ts`` subcommands.
"""
