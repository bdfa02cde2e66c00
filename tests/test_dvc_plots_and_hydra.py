"""`dvc plots show` on a default run: every declared plot loads, curves name their metric; an
installed plugin's components compose through Hydra with no file in conf/."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from tests.browser_kit import look, network_off
from tests.project_kit import REPO, fast_params, run
from tests.test_third_party_plugin import EXAMPLE, install_into


@pytest.fixture(scope="module")
def shown(tmp_path_factory, make_project) -> tuple[Path, dict, str]:
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


COMPOSE = """
import json, sys
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
with initialize_config_dir(config_dir=sys.argv[1], version_base=None):
    print(json.dumps(OmegaConf.to_container(compose("config", overrides=sys.argv[2:]))))
"""


def composed_in_subprocess(cwd: Path, *overrides: str, **env: str) -> dict:
    """What Hydra composes from conf/, as DVC does for `dvc exp run -S`, in a fresh process."""
    args = [sys.executable, "-c", COMPOSE, str(REPO / "conf"), *overrides]
    return json.loads(run(args, cwd, **env).stdout)


def test_an_installed_plugin_composes_through_hydra(tmp_path: Path):
    site = tmp_path / "site"
    install_into(site, EXAMPLE, tmp_path)
    params = composed_in_subprocess(tmp_path, "model=logistic", "data=blobs", PYTHONPATH=str(site))
    assert params["model"] == {"family": "logistic"}
    assert params["data"] == {"name": "blobs", "samples": 600}
    # conf/ keeps the built-ins' files; without the plugin its components are unknown.
    assert (
        composed_in_subprocess(tmp_path, "model=vae")["model"]
        == yaml.safe_load((REPO / "conf" / "model" / "vae.yaml").read_text())["model"]
    )
    missing = run(
        [sys.executable, "-c", COMPOSE, str(REPO / "conf"), "model=logistic"], tmp_path, check=False
    )
    assert missing.returncode != 0 and "Could not find 'model/logistic'" in missing.stderr


def test_the_offline_page_draws_every_plot_with_no_script_and_no_network(shown):
    project, shown_json, _ = shown
    # DVC's own page, offline: Vega never loads, not one chart is drawn.
    run(["dvc", "plots", "show"], project)
    dvc_page = look((project / "dvc_plots" / "index.html").as_uri(), offline=True)
    assert dvc_page["charts"] == 0 and "vegaEmbed is not defined" in dvc_page["errors"]

    done = run([*network_off(), "pipeline", "plots"], project)
    entries = [e for plots in shown_json["data"].values() for e in plots]
    assert done.stdout.strip() == (
        f"plots: {len(entries)} charts and images in dvc_plots/offline.html; open it in a browser, "
        "no network needed."
    )
    page = (project / "dvc_plots" / "offline.html").read_text()
    assert "<script" not in page and not re.search(r'(src|href)="https?:', page)
    assert page.count("<svg") == sum(e["type"] == "vega" for e in entries)
    assert page.count('<img src="data:image/png;base64,') == 1  # the confusion matrix, inline
    # Drawn, not blank: the learning curves' two lines (one a metric) with their axis titles.
    curves = page.split("<h2>learning curves")[1].split("</section>")[0]
    assert re.findall(r'class="(mark-line) role-mark', curves) == ["mark-line"] * 4
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", curves)
    assert {"epoch", "loss", "train_loss", "val_loss"} <= set(texts)
    # In a real browser with the network off, every chart shows.
    shown = look((project / "dvc_plots" / "offline.html").as_uri(), offline=True)
    assert shown["charts"] == page.count("<svg") and shown["errors"] == []
    assert "learning curves (every family)" in shown["text"]


def test_the_offline_page_says_when_there_is_nothing_to_draw(tmp_path: Path):
    run(["git", "init", "-q"], tmp_path)
    run(["dvc", "init", "-q"], tmp_path)
    done = run(["pipeline", "plots"], tmp_path, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: there are no plots to show yet: run `dvc repro` first."
    assert not (tmp_path / "dvc_plots").exists()
