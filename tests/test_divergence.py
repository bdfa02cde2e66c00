"""A diverged run never passes: training stops with one line at the step it diverged and writes no
model, and
a model holding non-finite weights is refused by evaluate and export instead of being scored or
converted."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pipeline.export.parity import ParityError, check
from tests.e2e_kit import mlflow_runs
from tests.project_kit import ONE_THREAD, fast_params, run


def statuses(root: Path) -> list[str]:
    return [r.info.status for r in mlflow_runs(root)]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize(
    "name, lr, cause",
    [
        # Adam's first step moves every weight by about lr: the second batch's logits overflow.
        ("adam", 1.0e30, "the loss is nan"),
        # Finite all along, and useless: the loss leaps from 2.33 to about 1e14 and the model ends
        # at chance.
        (
            "adam",
            1.0e6,
            "the loss grew to 1.87e+14, more than 1,000,000 times its first value (2.33)",
        ),
    ],
)
def test_diverged_training_fails_at_once_with_one_line(project: Path, name, lr, cause):
    fast_params(project, epochs=2, optimizer={"name": name, "lr": lr})
    run(["pipeline", "run", "prepare"], project, **ONE_THREAD)
    done = run(["pipeline", "run", "train"], project, check=False, **ONE_THREAD)
    assert done.returncode == 2
    assert error_lines(done.stderr) == [
        f"error: training diverged at epoch 0, step 2: {cause}; the learning rate "
        f"(optimizer.lr = {lr:g}) is likely too high — lower it."
    ]
    assert "Traceback" not in done.stderr
    assert statuses(project) == ["FAILED"]
    assert (
        not (project / "models" / "model.pt").exists()
        and not (project / "metrics" / "train.json").exists()
    )


def test_non_finite_weights_are_refused_by_evaluate_and_export(project: Path):
    fast_params(project, epochs=1)
    run(["pipeline", "run", "prepare"], project, **ONE_THREAD)
    run(["pipeline", "run", "train"], project, **ONE_THREAD)
    model = project / "models" / "model.pt"
    saved = torch.load(model, weights_only=True)
    weights = saved["state_dict"]["net.0.weight"]

    weights[3, 5] = float("nan")  # one weight of a good model
    torch.save(saved, model)
    for stage in ("evaluate", "export"):
        done = run(["pipeline", "run", stage], project, check=False, **ONE_THREAD)
        assert done.returncode == 2, stage
        (line,) = error_lines(done.stderr)
        assert line.startswith("error: trained model ") and line.endswith(
            "models/model.pt holds non-finite weights (nan or inf in net.0.weight); "
            "the training diverged — retrain with a lower optimizer.lr."
        ), line
        assert "Traceback" not in done.stderr
    assert (
        not (project / "metrics" / "evaluate.json").exists()
        and not (project / "metrics" / "export.json").exists()
    )

    # Finite weights whose outputs overflow: export refuses them before any conversion or parity
    # check.
    saved["state_dict"]["net.0.weight"] = torch.full_like(
        weights, 3e38
    )  # finite; every hidden unit overflows to inf
    torch.save(saved, model)
    done = run(["pipeline", "run", "export"], project, check=False, **ONE_THREAD)
    assert done.returncode == 2
    (line,) = error_lines(done.stderr)
    assert line.startswith("error: the network's outputs on the export examples are not finite (")
    assert line.endswith(
        "values are nan or inf); its weights overflow — retrain with a lower optimizer.lr."
    )
    assert "tolerance" not in done.stderr and "Traceback" not in done.stderr
    assert not (project / "exported").exists() and not list(project.glob(".exported-*"))
    # train's run stays FINISHED (the model it recorded is good; the file was damaged since),
    # with the last refusal recorded on it
    (mlrun,) = mlflow_runs(project)
    assert mlrun.info.status == "FINISHED"
    assert mlrun.data.tags["pipeline.failed_stage"].startswith(
        "export: the network's outputs on the export examples are not finite ("
    )


@pytest.mark.parametrize("diff", [float("nan"), float("inf")])
def test_a_parity_check_never_passes_a_non_finite_difference(diff):
    with pytest.raises(
        ParityError,
        match=r"^ONNX output is not finite where torch's is .*no export.tolerance can pass it",
    ):
        check({"ONNX": diff, "TFLite": 0.0}, tolerance=1e30)
