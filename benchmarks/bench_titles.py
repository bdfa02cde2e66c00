"""A title family's default run on any article → title dataset, against the 1.25× target.

Params are composed from ``conf/`` exactly as ``dvc exp run -S model=MODEL [-S OVERRIDE ...]``
composes them, then the pipeline's prepare, train and evaluate stages run in a temporary project
on one thread. It reports the ROUGE of the beam and greedy titles and of the baselines, the seconds
the train stage took (wall and CPU: on a shared machine the CPU seconds move less with load), and
whether the beam's ROUGE-L reaches 1.25× the best baseline's. With ``--split val`` the trained model
and the baselines are scored on the validation split instead (the family's evaluate, given the
validation split as its test split), for choosing settings.

Run from the repository root: ``python benchmarks/bench_titles.py [--model seq2seq|unilm]
[--split val] [OVERRIDE ...]``, e.g. ``data=code_titles`` or ``data=code_titles
trainer.max_epochs=20``. It never fails on a figure: it reports, and copies the titles table and
picture to ``--keep DIR`` when given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = 1.25  # the model's ROUGE-L over the best baseline's
SOURCES = ("", "_greedy", "_first_sentence", "_constant", "_nearest")
BASELINES = SOURCES[2:]


def main(model: str, overrides: list[str], keep: Path | None, split: str = "test") -> None:
    import dataclasses

    import torch

    from pipeline.params.hydra_groups import compose_params
    from pipeline.stages import run_stage
    from pipeline.stages.context import build_context
    from pipeline.stages.outputs import load_trained

    torch.set_num_threads(1)
    params = compose_params(REPO / "conf", [f"model={model}", *overrides])
    with tempfile.TemporaryDirectory() as tmp:
        ctx = build_context(Path(tmp), raw_params=params)
        run_stage("prepare", ctx)
        start, cpu = time.perf_counter(), time.process_time()
        run_stage("train", ctx)
        trained, trained_cpu = time.perf_counter() - start, time.process_time() - cpu
        if split == "test":
            metrics = dict(run_stage("evaluate", ctx))
        else:
            family, module, data = load_trained(ctx)
            plots = Path(tmp) / "plots" / "evaluate"
            plots.mkdir(parents=True, exist_ok=True)
            metrics = family.evaluate(module, dataclasses.replace(data, test=data.val), plots)
            shutil.copytree(plots, Path(tmp) / "samples", dirs_exist_ok=True)
        evaluated = time.perf_counter() - start - trained
        if keep:
            shutil.copytree(Path(tmp) / "plots" / "evaluate", keep, dirs_exist_ok=True)
            shutil.copytree(Path(tmp) / "samples", keep, dirs_exist_ok=True)
    print(f"model: {model}, data: {params['data']['name']}, overrides: {overrides or 'none'}")
    print(f"scored on the {split} split")
    print(f"{'titles':16} {'ROUGE-1':>8} {'ROUGE-2':>8} {'ROUGE-L':>8}")
    for source in SOURCES:
        row = [metrics[f"{kind}{source}"] for kind in ("rouge_1", "rouge_2", "rouge_l")]
        print(f"{source.strip('_') or 'model, beam':16} " + " ".join(f"{v:8.3f}" for v in row))
    best = max(BASELINES, key=lambda source: metrics[f"rouge_l{source}"])
    ratio = metrics["rouge_l"] / metrics[f"rouge_l{best}"]
    verdict = "yes" if ratio >= TARGET else "no"
    print(f"ROUGE-L over the best baseline ({best.strip('_')}): {ratio:.2f}x; {TARGET}x: {verdict}")
    print(f"loss on the {split} split {metrics['test_loss']:.4f} nats per title character")
    print(f"seconds: train {trained:.0f} (CPU {trained_cpu:.0f}), evaluate {evaluated:.0f}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="seq2seq", help="the recipe, as -S model= takes")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as dvc exp run -S takes")
    parser.add_argument("--keep", type=Path, help="copy the titles table and picture here")
    parser.add_argument("--split", choices=("test", "val"), default="test", help="split to score")
    args = parser.parse_args()
    main(args.model, args.overrides, args.keep, args.split)
