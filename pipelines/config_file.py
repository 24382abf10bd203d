"""Options from a YAML or TOML file as command-line tokens, so that argparse checks them like typed flags.

The file is a mapping of option names to values: ``d_model: 128`` or ``d-model = 128`` for ``--d-model 128``; true /
false for a flag (``revin: false`` is ``--no-revin``); a list for an option taking several values.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def read_config(path: str | Path) -> dict[str, Any]:
    """The mapping in ``path`` (.yaml, .yml or .toml); ValueError naming the file for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: config file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            content = tomllib.loads(path.read_text())
        elif suffix in (".yaml", ".yml"):
            content = yaml.safe_load(path.read_text())
        else:
            raise ValueError(f"{path}: config file must be .yaml, .yml or .toml")
    except (yaml.YAMLError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        first = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise ValueError(f"{path}: cannot parse config file: {first}") from err
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ValueError(f"{path}: config file must hold a mapping of option names to values")
    return content


def config_tokens(
    parser: argparse.ArgumentParser, options: dict[str, Any], source: str, refused: Iterable[str] = ()
) -> list[str]:
    """``options`` as tokens of ``parser``'s long options; ValueError (prefixed with ``source``) for a name that is
    not an option of ``parser`` or is in ``refused`` (dests such as "config")."""
    by_dest = {action.dest: action for action in parser._actions if action.option_strings}
    tokens: list[str] = []
    for key, value in options.items():
        dest = str(key).lstrip("-").replace("-", "_")
        if dest not in by_dest or dest in refused or dest == "help":
            raise ValueError(f"{source}: unknown option {key!r}")
        action = by_dest[dest]
        flag = next(s for s in action.option_strings if s.startswith("--") and not s.startswith("--no-"))
        if value is None:
            continue
        if isinstance(value, bool):
            if isinstance(action, argparse.BooleanOptionalAction):
                tokens.append(flag if value else f"--no-{flag[2:]}")
            elif value:
                tokens.append(flag)
        elif isinstance(value, list):
            tokens += [flag, *(str(item) for item in value)]
        else:
            tokens += [flag, str(value)]
    return tokens
