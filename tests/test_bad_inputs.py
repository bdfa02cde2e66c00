"""Bad files a user may leave behind are one `error:` line naming the file and what to do, never a
traceback."""

from __future__ import annotations

from pathlib import Path

import torch

from pipeline.params.validate import validate
from pipeline.plugin.registry import Registry, create_plugin_manager
from pipeline.training import resume
from tests.conftest import fast_params, run


def test_a_torch_file_that_is_not_a_lightning_checkpoint_is_refused(project: Path):
    params = fast_params(project, epochs=2)
    run(["pipeline", "run", "prepare"], project)
    # What a killed training of these settings leaves, but with a foreign file where its checkpoint
    # was.
    resume.record(
        project / "checkpoints", validate(params, Registry(create_plugin_manager())), None
    )
    last = project / "checkpoints" / "last.ckpt"
    torch.save({"a": 1}, last)
    done = run(["pipeline", "run", "train"], project, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: checkpoint {last} is not a training checkpoint written by Lightning (it lacks "
        "pytorch-lightning_version, "
        "state_dict, epoch, global_step, loops, optimizer_states, lr_schedulers); delete it to "
        "start training over."
    )
    assert "Traceback" not in done.stderr

    torch.save([1, 2, 3], last)
    done = run(["pipeline", "run", "train"], project, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: checkpoint {last} is not a training checkpoint written by Lightning (it holds a "
        "list, not a dict); "
        "delete it to start training over."
    )

    last.unlink()
    run(["pipeline", "run", "train"], project)
    assert (project / "models" / "model.pt").is_file()
