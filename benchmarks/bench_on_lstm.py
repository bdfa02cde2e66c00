"""The ON-LSTM family's default run against its quality targets.

Params are composed from ``conf/`` exactly as ``dvc exp run -S model=on_lstm [-S OVERRIDE ...]``
composes them, then the pipeline's prepare, train and evaluate stages run in a temporary project.
Targets: test perplexity within 5% of the plain LSTM trained beside it (or below it), parse F1 of
the induced trees above a right-branching tree's, and the three stages within five minutes.

Run from the repository root: ``python benchmarks/bench_on_lstm.py [OVERRIDE ...]``, e.g.
``data=python_expressions seed=1``. It never fails on a figure: it reports, and copies the evaluate
folder's trees and picture to ``--keep DIR`` when given.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 300


# The trees that know no syntax.
TRIVIAL = ("random", "balanced", "right_branching", "left_branching")


def main(overrides: list[str], keep: Path | None) -> None:
    import torch

    from pipeline.params.hydra_groups import compose_params
    from pipeline.stages import run_stage
    from pipeline.stages.context import build_context

    torch.set_num_threads(1)
    params = compose_params(REPO / "conf", ["model=on_lstm", *overrides])
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        ctx = build_context(Path(tmp), raw_params=params)
        for stage in ("prepare", "train"):
            run_stage(stage, ctx)
        metrics = dict(run_stage("evaluate", ctx))
        seconds = time.perf_counter() - start
        if keep:
            shutil.copytree(Path(tmp) / "plots" / "evaluate", keep, dirs_exist_ok=True)
            shutil.copytree(Path(tmp) / "samples", keep, dirs_exist_ok=True)
    best_trivial = max(metrics[f"parse_f1_{k}"] for k in TRIVIAL)
    rows = [
        ("perplexity", metrics["perplexity"], "<= 1.05 x lstm_perplexity"),
        ("lstm_perplexity", metrics["lstm_perplexity"], ""),
        ("parse_f1", metrics["parse_f1"], ">= 2 x best trivial tree"),
        *((f"parse_f1_{k}", metrics[f"parse_f1_{k}"], "") for k in TRIVIAL),
        ("parse_corpus_f1", metrics["parse_corpus_f1"], ""),
        *((f"parse_corpus_f1_{k}", metrics[f"parse_corpus_f1_{k}"], "") for k in TRIVIAL),
        *((k, v, "") for k, v in metrics.items() if k.startswith("parse_f1_layer")),
        ("seconds (prepare+train+evaluate)", seconds, f"<= {BUDGET_S}"),
    ]
    met = {
        "perplexity": metrics["perplexity"] <= 1.05 * metrics["lstm_perplexity"],
        "parse_f1": metrics["parse_f1"] >= 2 * best_trivial,
        "seconds (prepare+train+evaluate)": seconds <= BUDGET_S,
    }
    print(f"data: {params['data']['name']}, overrides: {overrides or 'none'}")
    for name, figure, target in rows:
        verdict = ("yes" if met[name] else "NO") if name in met else ""
        print(f"{name:34} {figure:9.4f}  {target:26} {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as dvc exp run -S takes")
    parser.add_argument("--keep", type=Path, help="copy the trees and picture here")
    args = parser.parse_args()
    main(args.overrides, args.keep)
