"""Bad trick settings stop `pipeline run train` before training, with one sentence naming the trick
and key."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
import yaml

from pipeline import PipelineError, Setting, TrickSpec, hookimpl
from pipeline.cli import main
from pipeline.params.validate import validate_tricks
from pipeline.plugin.registry import Registry, create_plugin_manager
from tests.project_kit import REPO, run

BAD = [
    ({"emma": {}}, "tricks.emma: unknown trick 'emma' (did you mean 'ema'?); known: "),
    (
        {"grad_accum": {"k": -2}},
        "tricks.grad_accum.k = -2 is invalid; expected an integer in [1, inf",
    ),
    ({"ema": {"decay": 1.5}}, "tricks.ema.decay = 1.5 is invalid; expected a number in (0, 1)"),
    ({"ema": {"decay": None}}, "tricks.ema.decay = None is invalid"),
    ({"ema": {"dacay": 0.9}}, "tricks.ema.dacay is not a known setting"),
    ({"lookahead": {"alpha": 0}}, "tricks.lookahead.alpha = 0 is invalid"),
    ({"piecewise_lr": {"points": []}}, "tricks.piecewise_lr.points = [] is invalid"),
    (
        {"piecewise_lr": {"points": [[1000, 1]]}},
        "tricks.piecewise_lr.points has position 1000, beyond 1, while tricks.piecewise_lr.unit = "
        "'fraction'",
    ),
    (
        {"param_lr": {"multipliers": [["encoder.*", 0.1]]}},
        "tricks.param_lr.multipliers: pattern 'encoder.*' matches no parameter of this model; its "
        "parameters are net.0.weight",
    ),
    (
        {"grad_transform": {"zero": ["head.*"]}},
        "tricks.grad_transform.zero: pattern 'head.*' matches no parameter",
    ),
    (
        {"weight_decay": {"exclude": ["*.norm"]}},
        "tricks.weight_decay.exclude: pattern '*.norm' matches no parameter",
    ),
    (
        {"lazy_embedding": {"patterns": ["embed*"]}},
        "tricks.lazy_embedding.patterns: pattern 'embed*' matches no parameter",
    ),
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A project folder with prepared digits, so a train stage can get as far as its tricks'
    checks."""
    root = tmp_path_factory.mktemp("errors")
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    assert in_process(root, "prepare") == 0
    return root


def in_process(root: Path, stage: str) -> int:
    """`pipeline run <stage>` through the console script's main(), in ``root``."""
    here, handler = Path.cwd(), signal.getsignal(signal.SIGTERM)
    os.chdir(root)
    try:
        return main(["run", stage])
    finally:
        os.chdir(here)
        signal.signal(signal.SIGTERM, handler)


def train_in_process(root: Path, tricks: dict, capsys) -> tuple[int, str]:
    """`pipeline run train` in-process, with params.yaml holding ``tricks``; returns the exit code
    and stderr."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    (root / "params.yaml").write_text(yaml.safe_dump({**params, "tricks": tricks}))
    code = in_process(root, "train")
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("tricks", "message"), BAD, ids=[next(iter(t)) + ":" + m.split()[0] for t, m in BAD]
)
def test_bad_trick_settings_stop_before_training(prepared, capsys, tricks, message):
    code, err = train_in_process(prepared, tricks, capsys)
    assert code == 2
    assert err.startswith(f"error: {message}")
    assert len(err.strip().splitlines()) == 1
    for started in ("checkpoints", "models", "mlflow.db", "lightning_logs"):
        assert not (prepared / started).exists(), f"{started} exists: training had started"


def test_the_console_script_exits_non_zero(prepared):
    params = yaml.safe_load((prepared / "params.yaml").read_text())
    (prepared / "params.yaml").write_text(
        yaml.safe_dump({**params, "tricks": {"ema": {"decay": 1.5}}})
    )
    done = run(["pipeline", "run", "train"], prepared, check=False)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "error: tricks.ema.decay = 1.5 is invalid; expected a number in (0, 1)."
    )


class Exclusive:
    """A third-party trick that refuses to run with ema."""

    @hookimpl
    def pipeline_tricks(self):
        return [
            TrickSpec(
                "exclusive", "refuses ema", lambda: None, {"on": Setting(True)}, conflicts=("ema",)
            )
        ]


def test_a_declared_conflict_is_refused_naming_both_tricks():
    registry = Registry(create_plugin_manager([Exclusive()]))
    validate_tricks({"exclusive": {}, "grad_accum": {}}, registry)
    with pytest.raises(
        PipelineError,
        match=r"^tricks\.exclusive cannot be combined with tricks\.ema; enable only one of them\.$",
    ):
        validate_tricks({"ema": {}, "exclusive": {}}, registry)
