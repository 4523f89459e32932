"""One definition per config field (mnist_tui/fields.py): TrainConfig, the CLI flags, the help
and the checks all come from it; and bounded fields say "too large" instead of echoing a
100-digit number."""

from __future__ import annotations

import dataclasses

import pytest

from mnist_tui import cli
from mnist_tui.config import FIELD_HELP, TrainConfig, config_errors, parse_field, validate
from mnist_tui.errors import ConfigError
from mnist_tui.fields import FIELDS, MAX_BATCH, Field, get_field


def test_trainconfig_is_generated_from_the_fields() -> None:
    declared = [(f.name, f.default) for f in dataclasses.fields(TrainConfig)]
    assert declared == [(f.name, f.default) for f in FIELDS]
    assert TrainConfig.__dataclass_params__.frozen  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().epochs = 3  # type: ignore[misc]


def test_cli_flags_and_help_come_from_the_fields() -> None:
    assert {f.flag: f.name for f in FIELDS} == cli.FLAGS
    assert {f.name: f.help for f in FIELDS} == FIELD_HELP
    parser = cli.build_parser()
    options = {opt: action for action in parser._actions for opt in action.option_strings}
    for f in FIELDS:
        assert options[f.flag].dest == f.name and options[f.flag].help == f.help
        assert cli.flag_for(f.name) == f.flag
        if f.choices:
            assert options[f.flag].metavar == "{" + ",".join(f.choices) + "}"
    assert options["--data"].metavar == "PATH"


def test_one_new_entry_is_a_new_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding a field means one entry: the CLI learns its flag without another table."""
    extra = Field("warmup", "int", 0, "--warmup", "Warm-up", "warm-up epochs", low=0, high=10)
    monkeypatch.setattr(cli, "FIELDS", (*FIELDS, extra))
    args = cli.build_parser().parse_args(["--warmup", "3"])
    assert args.warmup == "3" and extra.parse(args.warmup) == 3


@pytest.mark.parametrize(("name", "text", "message"), [
    ("batch_size", "1e99", "too large (max 1,000,000)"),
    ("batch_size", "9" * 100, "too large (max 1,000,000)"),
    ("epochs", "1e12", "too large (max 10,000)"),
    ("hidden_units", "1e99", "too large (max 100,000)"),
    ("limit", "1e99", "too large (max 100,000,000)"),
    ("seed", "1e99", "too large (max 4,294,967,295)"),
    ("learning_rate", "1e99", "too large (max 1,000,000)"),
    ("momentum", "1e99", "too large (must be below 1)"),
    ("dropout", "2", "too large (must be below 1)"),
    ("val_split", "1e99", "too large (must be below 1)"),
])
def test_too_large_says_so_without_the_number(name: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(TrainConfig().with_changes(**{name: parse_field(name, text)}))
    assert info.value.field == name and info.value.reason == message
    assert len(str(info.value)) < 60


def test_every_bounded_field_has_a_too_large_message() -> None:
    for f in FIELDS:
        if f.high is None:
            continue
        too_big = f.high * 10 if f.kind == "float" else int(f.high) * 10
        assert f.problem(too_big) is not None and f.problem(too_big).startswith("too large"), f.name  # type: ignore[union-attr]


def test_long_bad_input_is_quoted_short() -> None:
    with pytest.raises(ConfigError) as info:
        parse_field("epochs", "x" * 500)
    assert len(info.value.reason) < 60 and info.value.reason.startswith("must be a whole number, got 'xxx")
    assert get_field("batch_size").problem(-(10**99)) == "must be at least 1"


def test_all_errors_at_once() -> None:
    errors = config_errors({"learning_rate": -1.0, "epochs": 0, "batch_size": MAX_BATCH + 1, "preset": "scratch",
                            "optimizer": "adam", "dropout": 2.0})
    assert set(errors) == {"learning_rate", "epochs", "batch_size", "optimizer", "dropout"}
    assert errors["dropout"].startswith("too large")  # its own rule, not the scratch one
    assert errors["optimizer"] == "the scratch network trains with sgd only"
    with pytest.raises(ConfigError, match="is not a config field"):
        config_errors({"colour": "red"})
