"""A user's run of a generative family: `dvc repro` with model.family vae trains, evaluates and
exports, writes
its metrics and pictures, and `dvc plots show` renders them."""

from __future__ import annotations

import json

from tests.project_kit import ONE_THREAD, fast_params, run


def test_dvc_repro_runs_the_vae_family(project):
    fast_params(
        project,
        epochs=3,
        model={"family": "vae", "hidden": 64, "loss": None, "latent": 2, "recon_weight": 1.0},
    )
    run(["dvc", "repro"], project, **ONE_THREAD)

    metrics = json.loads((project / "metrics" / "evaluate.json").read_text())
    assert {
        "elbo",
        "test_recon",
        "test_kl",
        "frechet",
        "frechet_real",
        "judge_accuracy",
        "mode_coverage",
    } <= set(metrics)
    assert -44 < metrics["elbo"] < 0 and metrics["frechet"] > metrics["frechet_real"] > 0
    history = (project / "plots" / "history.csv").read_text().splitlines()
    assert len(history) == 4 and {"train_loss", "val_loss", "train_kl", "val_recon"} <= set(
        history[0].split(",")
    )
    pictures = project / "plots" / "evaluate"
    for name in (
        "samples",
        "reconstructions",
        "interpolations",
        "latent_scatter",
        "latent_manifold",
    ):
        assert (pictures / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    export = json.loads((project / "metrics" / "export.json").read_text())
    assert export and all(value <= 1e-4 for value in export.values()), export

    shown = json.loads(run(["dvc", "plots", "show", "--json"], project).stdout)
    drawn = {name for name, renders in shown["data"].items() if renders}
    assert {
        "learning curves",
        "plots/evaluate/samples.png",
        "plots/evaluate/latent_manifold.png",
    } <= drawn
    # Only what every family writes is named; the family's own pictures and curves come from
    # folders, so nothing another family draws is reported missing.
    assert not shown.get("errors"), shown["errors"]
    assert "plots/curves/val_loss.csv" in drawn
