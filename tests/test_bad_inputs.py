"""Bad files a user may leave behind are one `error:` line naming the file and what to do, never a
traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import torch

from pipeline.params.validate import validate
from pipeline.plugin.registry import Registry, create_plugin_manager
from pipeline.training import resume
from tests.project_kit import fast_params, run


def train_over(last: Path, content: object) -> subprocess.CompletedProcess:
    """Train with ``content`` saved as ``last``, the checkpoint a killed training left; the
    training must exit 2."""
    torch.save(content, last)
    done = run(["pipeline", "run", "train"], last.parents[1], check=False)
    assert done.returncode == 2
    return done


def refusal(last: Path, reason: str) -> str:
    """The last line a training prints on finding ``last``, a file Lightning did not write."""
    return (
        f"error: checkpoint {last} is not a training checkpoint written by Lightning ({reason}); "
        "delete it to start training over."
    )


def test_a_torch_file_that_is_not_a_lightning_checkpoint_is_refused(project: Path):
    params = fast_params(project, epochs=2)
    run(["pipeline", "run", "prepare"], project)
    # What a killed training of these settings leaves, but with a foreign file where its checkpoint
    # was.
    resume.record(
        project / "checkpoints", validate(params, Registry(create_plugin_manager())), None
    )
    last = project / "checkpoints" / "last.ckpt"
    done = train_over(last, {"a": 1})
    lacks = "pytorch-lightning_version, state_dict, epoch, global_step, loops, optimizer_states"
    assert done.stderr.strip().splitlines()[-1] == refusal(last, f"it lacks {lacks}, lr_schedulers")
    assert "Traceback" not in done.stderr

    done = train_over(last, [1, 2, 3])
    assert done.stderr.strip().splitlines()[-1] == refusal(last, "it holds a list, not a dict")

    last.unlink()
    run(["pipeline", "run", "train"], project)
    assert (project / "models" / "model.pt").is_file()
