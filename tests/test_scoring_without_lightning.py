"""Every registered family scores and exports in a process without Lightning, as ``pipeline run
evaluate`` and ``pipeline run export`` do (their modules derive from
:class:`pipeline.training.inference_module.InferenceModule` there), from the weights a
Lightning-based module
of the same family saved after training."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from pipeline.training.inference_module import InferenceModule
from tests.data_kit import REGISTRY
from tests.project_kit import REPO

# For each family: build on its contract data, load the weights a Lightning-based module saved,
# evaluate, run each exported network; record what was seen, and whether Lightning got loaded.
SCRIPT = """
import json, math, sys, tempfile
from pathlib import Path

from pipeline.training.module_base import without_lightning

without_lightning()
import torch

torch.set_num_threads(1)  # one core each, like the test process beside it: no oversubscription
from pipeline.export.exporter import parts_of
from pipeline.training.inference_module import InferenceModule
from tests.data_kit import build_unseeded, contract_data

found = {}
for name in sys.argv[2:]:
    data = contract_data(name)
    family, module = build_unseeded(name, data)
    module.load_state_dict(torch.load(f"{sys.argv[1]}/{name}.pt", weights_only=True))
    module.eval()
    with tempfile.TemporaryDirectory() as out:
        metrics = family.evaluate(module, data, Path(out))
        pictures = len(list(Path(out).glob("*.png")))
    shapes = []
    for part in parts_of(family.export_target(module, data), 8):
        with torch.no_grad():
            outputs = part.network(*part.inputs)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        shapes += [bool(torch.isfinite(o).all()) and o.shape[0] == 8 for o in outputs]
    found[name] = {
        "base": isinstance(module, InferenceModule),
        "finite": all(math.isfinite(v) for v in metrics.values()) and bool(metrics),
        "pictures": pictures,
        "outputs": shapes,
    }
found["lightning"] = sorted(m for m in sys.modules if m.split(".")[0] == "lightning")
print(json.dumps(found))
"""


def selected_families(session) -> list[str]:
    """The families whose test below this session runs (``-k`` may pick a few), or all."""
    names = {
        item.callspec.params["name"]
        for item in session.items
        if item.originalname == test_family_scores_and_exports_without_lightning.__name__
    }
    return sorted(names or REGISTRY.families)


@pytest.fixture(scope="module")
def scored(request, tmp_path_factory) -> dict:
    """The script's findings for the selected families, run once."""
    from tests.data_kit import contract_data
    from tests.family_kit import build, fit

    names = selected_families(request.session)
    weights = tmp_path_factory.mktemp("weights")
    for name in names:  # two steps: what training sets (counts, statistics) is set
        data = contract_data(name)
        _, module = build(name, data, seed=1)
        fit(module, data, batch_size=16, max_epochs=1, limit_train_batches=2, limit_val_batches=1)
        torch.save(module.state_dict(), weights / f"{name}.pt")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(weights), *names],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
def test_the_process_never_loads_lightning(scored):
    assert scored["lightning"] == []


@pytest.mark.parametrize("name", sorted(REGISTRY.families))
@pytest.mark.slow
def test_family_scores_and_exports_without_lightning(scored, name):
    assert scored[name]["base"] is True
    assert scored[name]["finite"] is True
    assert scored[name]["pictures"] > 0
    assert scored[name]["outputs"] and all(scored[name]["outputs"])


def test_modules_built_in_tests_keep_lightning():
    from lightning.pytorch import LightningModule

    from pipeline.training.module import ModelModule

    assert issubclass(ModelModule, LightningModule)
    assert not issubclass(ModelModule, InferenceModule)


def test_switching_once_the_modules_exist_is_refused():
    import pipeline.training.module  # noqa: F401  (its classes already derive from Lightning's)
    from pipeline.training.module_base import without_lightning

    with pytest.raises(RuntimeError, match="before pipeline.training.module is imported"):
        without_lightning()
