"""A full disk (the kernel's own ENOSPC, from /dev/full) while a stage writes a result is one line;
the result it replaces stays whole, no temporary file is left, and a training whose model could not
be written is recorded by the next run without training again."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from mlflow.tracking import MlflowClient

from pipeline.errors import PipelineError
from pipeline.stages.outputs import save_weights, write_json
from tests.project_kit import params_only, run


def full_disk_at(tmp: Path) -> None:
    """Make the temporary file a writer opens at ``tmp`` a device on which every write fails with
    ENOSPC."""
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.symlink_to("/dev/full")


def test_a_full_disk_keeps_the_last_result_and_leaves_no_temporary_file(tmp_path: Path):
    model, metrics = tmp_path / "models" / "model.pt", tmp_path / "metrics" / "train.json"
    for path, good in ((model, b"the last good model"), (metrics, b'{"accuracy": 0.95}\n')):
        path.parent.mkdir(parents=True)
        path.write_bytes(good)
        full_disk_at(path.with_suffix(".tmp"))
    writes = {
        model: lambda: save_weights(model, torch.nn.Linear(64, 64), "classifier"),
        metrics: lambda: write_json(metrics, {"accuracy": 0.1}),
    }
    for path, write in writes.items():
        before = path.read_bytes()
        try:
            write()
        except PipelineError as error:
            message = str(error)
        else:
            raise AssertionError(f"writing {path} on a full disk passed")
        assert message.startswith(f"no space left on the device holding {path.parent} (")
        assert message.endswith(
            f"MiB free) while writing {path.name}; free some space and rerun: {path} is as it was."
        )
        assert path.read_bytes() == before
        assert not path.with_suffix(".tmp").exists() and not path.with_suffix(".tmp").is_symlink()


def test_a_model_the_disk_could_not_hold_is_recorded_by_the_next_run(tmp_path: Path):
    root = params_only(tmp_path / "project", trainer={"max_epochs": 3})
    run(["pipeline", "run", "prepare"], root)
    full_disk_at(root / "models" / "model.tmp")

    done = run(["pipeline", "run", "train"], root, check=False, OMP_NUM_THREADS="1")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: no space left on the device holding {root / 'models'} (")
    assert not (root / "models" / "model.pt").exists()
    assert not (root / "models" / "model.tmp").is_symlink()
    last = torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 2  # the finished training is kept

    run(["pipeline", "run", "train"], root, OMP_NUM_THREADS="1")  # space is back
    assert json.loads((root / "metrics" / "train.json").read_text())["epochs"] == 3
    saved = torch.load(root / "models" / "model.pt", weights_only=True)["state_dict"]
    assert saved.keys() == last["state_dict"].keys()  # the checkpoint's weights, not retrained
    assert all(torch.equal(v, last["state_dict"][k]) for k, v in saved.items())
    assert not (root / "checkpoints").exists()
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    (mlrun,) = client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])
    assert mlrun.info.status == "FINISHED"  # the same run, recorded this time
