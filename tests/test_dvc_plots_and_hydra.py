"""`dvc plots show` on a default run: every declared plot loads, curves name their metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import fast_params, make_project, run


@pytest.fixture(scope="module")
def shown(tmp_path_factory) -> tuple[Path, dict, str]:
    """A project after a 1-epoch `dvc repro evaluate`, and what `dvc plots show --json` gives."""
    project = make_project(tmp_path_factory.mktemp("plots") / "project")
    fast_params(project, epochs=1)
    run(["dvc", "repro", "evaluate"], project)
    done = run(["dvc", "plots", "show", "--json"], project)
    return project, json.loads(done.stdout), done.stderr


def y_titles(content: dict) -> list[str]:
    """The titles of a vega-lite spec's y axes, layers included."""
    found = []
    if isinstance(content, dict):
        title = content.get("encoding", {}).get("y", {}).get("title")
        if title is not None:
            found.append(title)
        for value in content.values():
            found += y_titles(value) if isinstance(value, (dict, list)) else []
    elif isinstance(content, list):
        for item in content:
            found += y_titles(item)
    return found


def test_default_run_plots_load_without_errors(shown):
    _, shown_json, stderr = shown
    assert not shown_json.get("errors"), shown_json["errors"]
    assert "failed" not in stderr and "WARNING" not in stderr, stderr
    images = [name for name, plots in shown_json["data"].items() if plots[0]["type"] == "image"]
    assert images == ["plots/evaluate/confusion_matrix.png"]


def test_every_curve_names_its_metric(shown):
    project, shown_json, _ = shown
    logged = set((project / "plots" / "history.csv").read_text().splitlines()[0].split(","))
    curves = {
        name: set(y_titles(plots[0]["content"]))
        for name, plots in shown_json["data"].items()
        if plots[0]["type"] == "vega"
    }
    assert curves["learning curves"] == {"loss"}
    for metric in ("train_acc", "val_acc", "train_loss", "val_loss"):
        assert curves[f"plots/curves/{metric}.csv"] == {metric}
    assert curves["plots/evaluate/confusion.csv"] == {"actual"}
    assert logged == {"epoch", "train_acc", "val_acc", "train_loss", "val_loss"}


def test_rendered_plots_are_git_ignored(shown):
    project, _, _ = shown
    run(["dvc", "plots", "show"], project)
    assert (project / "dvc_plots" / "index.html").is_file()
    assert run(["git", "status", "--porcelain", "dvc_plots"], project).stdout == ""
