"""Pipelines: the ``titans-ts`` command line (``cli``) and its subcommands ``info``, ``forecast``, ``classify`` and
``tune``, with their shared options, Lightning fit, MLflow tracking and Optuna search spaces."""
