"""``pipeline sweep SPACE --confirm-top K --seeds N`` reruns the study's K best trials over N seeds
through ``pipeline compare`` and makes the best by mean validation value the trial that
``--apply-best`` applies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import optuna
import yaml

from pipeline.cli import main
from pipeline.compare.confirm import choose, ranked, top_spec
from pipeline.sweep.command import Request, run_sweep
from pipeline.sweep.report import CONFIRMED_ATTR
from pipeline.sweep.space import parse_space
from tests.project_kit import ONE_THREAD, REPO, fast_params
from tests.test_sweep_apply import SPACE, told_study


def space():
    return parse_space(yaml.safe_load(SPACE), "lr.yaml", "lr")


def test_the_top_trials_become_variants_the_sweeps_best_first(tmp_path: Path):
    study = told_study(f"sqlite:///{tmp_path / 's.db'}", {0.01: 0.91, 0.02: 0.97, 0.03: 0.95})
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    best = ranked(study, space())[:2]
    assert [t.value for t in best] == [0.97, 0.95]
    spec = top_spec(study, space(), best, params, 3)
    assert spec.names == [f"trial-{best[0].number}", f"trial-{best[1].number}"]
    assert dict(spec.variants)[spec.reference] == {
        "trainer.max_epochs": 3,
        "optimizer.lr": 0.02,
    }
    assert spec.seeds == (0, 1, 2) and spec.metrics == ("val_acc", "accuracy")
    summary = {"variants": {"trial-1": {"val.acc": {"mean": 0.93}}}}
    summary["variants"]["trial-2"] = {"val.acc": {"mean": 0.95}}
    assert choose(summary, space(), best).number == 2  # the second of the sweep wins on the mean


def test_confirming_runs_the_top_trials_over_seeds_and_apply_best_takes_the_winner(
    make_project, tmp_path: Path, monkeypatch, capsys
):
    root = make_project(tmp_path / "project")
    fast_params(root, epochs=2)
    (root / "lr.yaml").write_text(SPACE.replace("max_epochs: 3", "max_epochs: 2"))
    (root / "optuna").mkdir()
    storage = f"sqlite:///{root.resolve() / 'optuna' / 'sweeps.db'}"
    study = told_study(storage, {0.001: 0.5, 0.03: 0.9, 0.1: 0.8})
    monkeypatch.chdir(root)
    for key, value in ONE_THREAD.items():
        monkeypatch.setenv(key, value)

    assert main(["sweep", "lr.yaml", "--study", "lr", "--confirm-top", "2", "--seeds", "2"]) == 0

    summary = json.loads((root / "comparisons" / "lr-top2" / "summary.json").read_text())
    means = {v: m["val.acc"]["mean"] for v, m in summary["variants"].items()}
    assert set(means) == {"trial-1", "trial-2"}  # lr 0.03 (the sweep's best) and lr 0.1
    assert all(len(m["val.acc"]["values"]) == 2 for m in summary["variants"].values())
    winner = max(means, key=means.get)
    study = optuna.load_study(study_name="lr", storage=storage)
    assert f"trial-{study.user_attrs[CONFIRMED_ATTR]}" == winner
    assert f"confirmed: trial #{winner[6:]}" in capsys.readouterr().out

    assert run_sweep(Request("lr.yaml", study="lr", apply_best=True), root) == 0
    chosen = study.get_trials(deepcopy=False)[int(winner[6:])]
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert params["optimizer"]["lr"] == chosen.params["optimizer.lr"]
    assert "chosen by its mean validation value over seeds" in capsys.readouterr().out

    assert main(["sweep", "lr.yaml", "--study", "lr", "--confirm-top", "4", "--seeds", "2"]) == 2
    assert "holds 3 complete trial(s), fewer than --confirm-top 4" in capsys.readouterr().err


def test_confirm_top_refuses_a_single_trial_or_seed(tmp_path: Path, monkeypatch, capsys):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "lr.yaml").write_text(SPACE)
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "lr.yaml", "--confirm-top", "3", "--seeds", "1"]) == 2
    assert "needs at least 2 trials and 2 seeds" in capsys.readouterr().err
    assert main(["sweep", "lr.yaml", "--confirm-top", "2", "--apply-best"]) == 2
    assert "give it without --n-trials and --apply-best" in capsys.readouterr().err
