"""Optuna search spaces over pipeline options: a mapping of option name to a distribution or a fixed value.

    lr:       {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    d_model:  {type: categorical, choices: [32, 64, 128]}
    n_layers: {type: int, low: 1, high: 3}
    epochs:   5                      # a plain value fixes the option for every trial

Names are the pipeline's long options (``d_model`` or ``d-model``). A file given with ``--search-space`` replaces
the entries it names and keeps the others of the default space; ``name: null`` drops one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna

from titans_ts.config import VARIANTS

FORECAST_SPACE: dict[str, Any] = {
    "model": {"type": "categorical", "choices": list(VARIANTS)},
    "d_model": {"type": "categorical", "choices": [32, 64, 128]},
    "n_layers": {"type": "int", "low": 1, "high": 3},
    "memory_depth": {"type": "int", "low": 1, "high": 3},
    "chunk_size": {"type": "categorical", "choices": [8, 16, 32]},
    "window": {"type": "categorical", "choices": [16, 32, 64]},
    "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.3},
}
CLASSIFY_SPACE: dict[str, Any] = {
    "model": {"type": "categorical", "choices": list(VARIANTS)},
    "d_model": {"type": "categorical", "choices": [32, 64, 128]},
    "n_layers": {"type": "int", "low": 1, "high": 3},
    "memory_depth": {"type": "int", "low": 1, "high": 2},
    "chunk_size": {"type": "categorical", "choices": [8, 16, 32]},
    "theta_max": {"type": "float", "low": 0.02, "high": 0.3, "log": True},
    "pooling": {"type": "categorical", "choices": ["mean", "attention"]},
    "kmer": {"type": "categorical", "choices": [1, 3, 6]},
    "kmer_overlap": True,  # k-mers at every base: on GUE's dev splits far ahead of single bases (BENCHMARKS.md)
    "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.3},
}

_KEYS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}


def merge_space(default: Mapping[str, Any], overrides: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``default`` with ``overrides`` applied (None removes an entry); every entry checked, ValueError naming
    ``source`` and the entry otherwise."""
    space = {name.replace("-", "_"): spec for name, spec in default.items()}
    for name, spec in overrides.items():
        key = str(name).replace("-", "_")
        if spec is None:
            space.pop(key, None)
        else:
            space[key] = spec
    for name, spec in space.items():
        check_spec(name, spec, source)
    return space


def check_spec(name: str, spec: Any, source: str) -> None:
    """ValueError unless ``spec`` is a plain value or a well-formed distribution."""
    if not isinstance(spec, Mapping):
        return
    kind = spec.get("type")
    if kind not in _KEYS:
        raise ValueError(f"{source}: {name}: type must be float, int or categorical; got {kind!r}")
    unknown = set(spec) - _KEYS[kind]
    if unknown:
        raise ValueError(f"{source}: {name}: unknown keys {sorted(unknown)} for a {kind} distribution")
    if kind == "categorical":
        if not isinstance(spec.get("choices"), list) or not spec["choices"]:
            raise ValueError(f"{source}: {name}: categorical needs a non-empty list of choices")
    elif "low" not in spec or "high" not in spec or not spec["low"] <= spec["high"]:
        raise ValueError(f"{source}: {name}: {kind} needs low ≤ high")


def suggest(trial: optuna.Trial, space: Mapping[str, Any]) -> dict[str, Any]:
    """One value per entry of ``space``: drawn by ``trial`` for distributions, as given for fixed values."""
    values = {}
    for name, spec in space.items():
        if not isinstance(spec, Mapping):
            values[name] = spec
        elif spec["type"] == "categorical":
            values[name] = trial.suggest_categorical(name, spec["choices"])
        elif spec["type"] == "int":
            values[name] = trial.suggest_int(
                name, int(spec["low"]), int(spec["high"]), step=int(spec.get("step", 1)), log=spec.get("log", False)
            )
        else:
            values[name] = trial.suggest_float(
                name, float(spec["low"]), float(spec["high"]), step=spec.get("step"), log=spec.get("log", False)
            )
    return values
