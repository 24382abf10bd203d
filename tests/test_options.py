"""Pipeline options generated from ``TitansConfig`` and ``TrainSettings``: one flag per field, typed, with the field's
choices and docstring help, and the pipelines' own defaults where they differ from the library's."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path

import pytest

from pipelines import classify, forecast
from pipelines.cli import build_parser, main, parse
from pipelines.config_file import config_tokens
from pipelines.options import FORECAST_ONLY, add_field_arguments, backbone_config, field_help, option_name
from titans_ts.config import VARIANTS, TitansConfig
from titans_ts.training.settings import TrainSettings

PIPELINES = {"forecast": forecast, "classify": classify}


def subparser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=command)
    PIPELINES[command].add_arguments(parser)
    return parser


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {action.dest: action for action in parser._actions if action.option_strings}


def expected_fields(command: str) -> list[tuple[type, str]]:
    """(dataclass, field name) of every field that ``command`` must have a flag for."""
    skip = () if command == "forecast" else FORECAST_ONLY
    return [(TitansConfig, spec.name) for spec in dataclasses.fields(TitansConfig)] + [
        (TrainSettings, spec.name) for spec in dataclasses.fields(TrainSettings) if spec.name not in skip
    ]


def squeezed(text: str) -> str:
    """``text`` without whitespace: argparse wraps help lines (also at hyphens)."""
    return "".join(text.split())


@pytest.mark.parametrize("cls", [TitansConfig, TrainSettings])
def test_every_field_is_described_once_in_its_docstring(cls: type) -> None:
    described = field_help(cls)
    assert set(described) == {spec.name for spec in dataclasses.fields(cls)}
    assert all(text and "``" not in text and not text.endswith(".") for text in described.values())


@pytest.mark.parametrize("command", PIPELINES)
def test_every_field_has_a_flag_of_its_type_choices_and_help(command: str) -> None:
    """Fails when a field of TitansConfig or TrainSettings is added without a command-line option."""
    actions = options(subparser(command))
    hints = {cls: typing.get_type_hints(cls) for cls in (TitansConfig, TrainSettings)}
    for cls, name in expected_fields(command):
        action = actions.get(option_name(name))
        assert action is not None, f"{cls.__name__}.{name} has no option in titans-ts {command}"
        assert f"--{option_name(name).replace('_', '-')}" in action.option_strings
        assert field_help(cls)[name] in action.help
        if hints[cls][name] is bool:
            assert isinstance(action, argparse.BooleanOptionalAction)
        elif hints[cls][name] in (int, float):
            assert action.type is hints[cls][name]
    assert tuple(actions["model"].choices) == VARIANTS
    assert actions["gates"].choices == ("token", "chunk") and "chunked" in actions["backend"].choices
    assert set(actions["device"].choices) == {"auto", "cpu", "cuda"}


@pytest.mark.parametrize("command", PIPELINES)
def test_help_lists_every_field_with_its_help_and_effective_default(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    for cls, name in expected_fields(command):
        flag = f"--{option_name(name).replace('_', '-')}"
        assert flag in out, flag
        assert squeezed(field_help(cls)[name]) in squeezed(out), name
    for flag in ("--backend", "--conv-size", "--gates", "--ffn-mult", "--learned-init, --no-learned-init"):
        assert flag in out
    assert squeezed("dropout on the residual branches and attention weights (default: 0.1)") in squeezed(out)
    if command == "classify":
        assert squeezed('"lmm" neural memory alone (default: lmm)') in squeezed(out)
        assert "--loss" not in out and "--train-online" not in out and "--lr-schedule" in out


@pytest.mark.parametrize("command", PIPELINES)
def test_pipeline_defaults_differ_from_the_library_only_where_stated(command: str) -> None:
    module = PIPELINES[command]
    args = parse(build_parser(), [command])
    actions = options(subparser(command))
    assert set(module.DEFAULTS) <= set(actions), "a DEFAULTS key that is no option"
    assert TitansConfig().dropout == 0.0 and module.DEFAULTS["dropout"] == 0.1
    library = {**TitansConfig().to_dict(), **{spec.name: module.DEFAULTS[option_name(spec.name)]
               for spec in dataclasses.fields(TitansConfig) if option_name(spec.name) in module.DEFAULTS}}
    assert backbone_config(args).to_dict() == library
    for dest, value in module.DEFAULTS.items():
        assert getattr(args, dest) == value
    assert (args.model, args.lr, args.epochs) == ({"forecast": "mag", "classify": "lmm"}[command], 1e-3, 10)


def test_existing_and_new_flags_reach_the_config() -> None:
    argv = [
        "forecast", "--model", "mal", "--d-model", "8", "--n-heads", "2", "--memory-update", "minibatch",
        "--eta-max", "0.5", "--backend", "recurrent", "--conv-size", "2", "--gates", "chunk", "--ffn-mult", "2",
        "--no-learned-init", "--detach-state", "--dropout", "0", "--loss", "mae", "--max-train-batches", "3",
    ]  # fmt: skip
    args = parse(build_parser(), argv)
    config = backbone_config(args)
    assert (config.variant, config.d_model, config.memory_update, config.eta_max) == ("mal", 8, "minibatch", 0.5)
    assert (config.backend, config.conv_size, config.gates, config.ffn_mult) == ("recurrent", 2, "chunk", 2)
    assert (config.learned_init, config.detach_state, config.dropout) == (False, True, 0.0)
    assert (args.loss, args.max_train_batches) == ("mae", 3)


def test_config_file_keys_of_new_fields(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("model: lmm\nlearned_init: false\ngates: chunk\nconv-size: 3\nbackend: chunked\n")
    args = parse(build_parser(), ["classify", "--config", str(config), "--conv-size", "2"])
    assert (args.model, args.learned_init, args.gates, args.conv_size, args.backend) == (
        "lmm", False, "chunk", 2, "chunked"
    )  # fmt: skip
    tokens = config_tokens(subparser("forecast"), {"learned_init": False, "detach_state": True}, "test")
    assert tokens == ["--no-learned-init", "--detach-state"]


def test_a_field_without_help_or_of_an_unknown_type_is_refused() -> None:
    @dataclasses.dataclass
    class Undescribed:
        """width: described."""

        width: int = 1
        height: int = 2

    @dataclasses.dataclass
    class Odd:
        """shape: a tuple."""

        shape: tuple = (1, 2)

    group = argparse.ArgumentParser().add_argument_group()
    with pytest.raises(TypeError, match="Undescribed.height has no 'name: text' line"):
        add_field_arguments(group, Undescribed)
    with pytest.raises(TypeError, match="shape: no command-line option"):
        add_field_arguments(group, Odd)
