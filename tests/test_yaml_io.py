"""The project's one YAML reader refuses a key given twice, as DVC does, instead of keeping the
last value: params.yaml through the command line, and every other file it reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.errors import PipelineError
from pipeline.params.yaml_io import DuplicateKeyError, load_yaml_text, read_yaml_file
from tests.project_kit import REPO, run


@pytest.mark.parametrize(
    "text, message",
    [
        ("seed: 1\nseed: 2\n", "repeats the key 'seed' at line 2 (first at line 1)"),
        ("trainer:\n  max_epochs: 3\n  devices: 1\n  max_epochs: 9\n", "'max_epochs' at line 4"),
        ("model: {family: vae, family: gan}\n", "repeats the key 'family' at line 1"),
    ],
)
def test_a_repeated_key_is_refused(text, message):
    with pytest.raises(DuplicateKeyError, match=re.escape(message)):
        load_yaml_text(text)


def test_merge_keys_may_still_be_overridden():
    text = "base: &b {lr: 0.1, name: sgd}\nfast:\n  <<: *b\n  lr: 0.5\n"
    assert load_yaml_text(text)["fast"] == {"lr": 0.5, "name": "sgd"}


def test_the_same_key_in_different_mappings_is_fine():
    assert load_yaml_text("a: {x: 1}\nb: {x: 2}\n") == {"a": {"x": 1}, "b": {"x": 2}}


def test_a_file_names_itself_and_the_remedy(tmp_path: Path):
    space = tmp_path / "space.yaml"
    space.write_text("params:\n  optimizer.lr: {low: 1e-4, high: 1e-1}\n  optimizer.lr: [0.1]\n")
    with pytest.raises(PipelineError) as raised:
        read_yaml_file(space, "search space")
    assert str(raised.value) == (
        f"search space {space} repeats the key 'optimizer.lr' at line 3 (first at line 2); "
        "keep one of them."
    )


def test_params_with_a_repeated_section_fail_in_one_line(tmp_path: Path):
    params = (REPO / "params.yaml").read_text() + "trainer:\n  max_epochs: 1\n"
    (tmp_path / "params.yaml").write_text(params)
    done = run(["pipeline", "run", "prepare"], tmp_path, check=False)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: params file params.yaml repeats the key 'trainer' at line ")
    assert line.endswith("; keep one of them.")
    assert not (tmp_path / "data").exists()
