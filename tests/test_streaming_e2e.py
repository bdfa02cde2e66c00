"""A streamed dataset through the stages: DVC keeps its shards, a killed training resumes to the
same weights, and DDP ranks split each epoch."""

from __future__ import annotations

import json
import math
from pathlib import Path

from pipeline.data.prepared import PreparedData
from pipeline.data.shard_batches import ShardBatches
from tests.e2e_kit import kill_after_first_checkpoint, mlflow_runs, model_weights
from tests.project_kit import edit_params, fast_params, run
from tests.trick_kit import assert_bitwise_equal

BLOBS = {"name": "gaussian_blobs", "examples": 4000, "features": 32, "num_workers": 1}


def test_dvc_keeps_unchanged_shards_and_reruns_prepare_for_a_changed_source(project: Path):
    edit_params(project, data=BLOBS)
    first = run(["dvc", "repro", "prepare"], project)
    assert "Running stage 'prepare'" in first.stdout
    info = json.loads((project / "data" / "prepared" / "info.json").read_text())
    assert info["storage"] == "shards" and info["input_shape"] == [32]
    sizes = json.loads((project / "data" / "prepared" / "sizes.json").read_text())
    assert sum(sizes.values()) == 4000
    tars = sorted((project / "data" / "prepared").rglob("*.tar"))
    assert len(tars) == 3 * 8  # data.shards per split
    before = {path: path.read_bytes() for path in tars}

    again = run(["dvc", "repro", "prepare"], project)
    assert "Stage 'prepare' didn't change, skipping" in again.stdout

    edit_params(project, data={"examples": 4100})
    changed = run(["dvc", "repro", "prepare"], project)
    assert "Running stage 'prepare'" in changed.stdout
    sizes = json.loads((project / "data" / "prepared" / "sizes.json").read_text())
    assert sum(sizes.values()) == 4100
    assert any(path.read_bytes() != content for path, content in before.items())


def test_a_killed_streamed_training_resumes_to_the_same_weights(project: Path):
    fast_params(project, epochs=12, data=BLOBS)
    run(["pipeline", "run", "prepare"], project)
    run(["pipeline", "run", "train"], project)
    uninterrupted = model_weights(project)
    for generated in ("checkpoints", "models", "plots", "metrics"):
        run(["rm", "-rf", generated], project)
    (project / "mlflow.db").unlink()

    kill_after_first_checkpoint(project)
    resumed = run(["pipeline", "run", "train"], project)
    assert "Restoring states from the checkpoint path" in resumed.stderr + resumed.stdout
    assert_bitwise_equal(model_weights(project), uninterrupted)
    assert [r.info.status for r in mlflow_runs(project)] == ["FINISHED"]


def test_ddp_ranks_split_each_epoch_of_streamed_data(project: Path):
    fast_params(project, epochs=2, data=BLOBS, trainer={"devices": 2, "strategy": "ddp"})
    run(["pipeline", "run", "prepare"], project)
    done = run(["pipeline", "run", "train"], project)
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in done.stderr + done.stdout
    data = PreparedData.load(project / "data" / "prepared")
    batch = 64
    per_rank = [ShardBatches(data.train, batch, seed=0, rank=r, world=2) for r in range(2)]
    assert len(per_rank[0]) == math.ceil(data.train.rows / 2 / batch)
    train = json.loads((project / "metrics" / "train.json").read_text())
    assert train["optimizer_steps"] == 2 * len(per_rank[0])
    run(["pipeline", "run", "evaluate"], project)
    assert json.loads((project / "metrics" / "evaluate.json").read_text())["accuracy"] > 0.9
