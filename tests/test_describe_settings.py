"""`pipeline plugins --settings NAME` prints a component's settings from its `Setting`s."""

from __future__ import annotations

import pytest

from pipeline.cli import main
from tests.family_kit import REGISTRY


def settings_of(name: str, capsys) -> tuple[int, list[str]]:
    code = main(["plugins", "--settings", name])
    return code, capsys.readouterr().out.splitlines()


def test_a_dataset_shows_each_setting_as_its_params_key_with_default_and_doc(capsys):
    code, lines = settings_of("idx", capsys)
    assert code == 0
    assert lines[0].startswith("dataset idx: MNIST-format IDX files")
    assert lines[1] == "  chosen by data.name: idx"
    at = lines.index("  data.test_split = official")
    assert lines[at + 1].startswith("      official: the t10k-* files, when present, are the test")
    assert lines[at + 1].endswith("; one of 'official', 'pool'")
    assert "  data.path = null" in lines
    assert lines[-1] == (
        "  also takes the settings every dataset does: val_fraction, test_fraction, num_workers, "
        "shards"
    )


@pytest.mark.parametrize(
    "name, section",
    [("classifier", "model"), ("ema", "tricks.ema"), ("momentum", "optimizer")],
)
def test_every_kind_lists_all_its_declared_settings(name, section, capsys):
    code, lines = settings_of(name, capsys)
    spec = next(
        entries[name].spec
        for entries in (REGISTRY.families, REGISTRY.tricks, REGISTRY.optimizers)
        if name in entries
    )
    shown = [line.split(" = ")[0].strip() for line in lines if " = " in line]
    assert code == 0 and shown == [f"{section}.{key}" for key in spec.settings]


def test_an_unknown_name_is_one_line_with_a_suggestion(capsys):
    code = main(["plugins", "--settings", "clasifier"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err == (
        "error: no model family, dataset, trick or optimizer is called 'clasifier' (did you mean "
        "'classifier'?); `pipeline plugins` lists them.\n"
    )
