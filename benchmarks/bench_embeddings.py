"""The embedding families' default runs on the docstring word corpus, against their quality targets.

Each family's params are composed by Hydra from ``conf/`` exactly as ``dvc exp run -S
model=<family>`` composes them, and the pipeline's own prepare, train and evaluate stages run in a
temporary project (the functions of ``bench_generative.py``). The script prints every target beside
the figure reached and the stage time, writes them to ``docs/gallery/metrics.json``, and copies each
family's picture to ``docs/gallery/<family>.png`` and its text sample to
``docs/gallery/<family>.txt``.

Run from the repository root: ``python benchmarks/bench_embeddings.py [family ...]``. It never fails
on a figure: it reports.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from bench_generative import GALLERY, HEADER, default_run, record_and_report

# family → (picture, text sample) that evaluate writes
OUTPUTS = {
    "bioword": ("retrieval", "nearest_words"),
    "jose": ("documents", "neighbours"),
}
# family → (metric, comparison, bound); a bound given as a name is that metric of the same run.
TARGETS: dict[str, list[tuple[str, str, float | str]]] = {
    # Precision@10 of same-module test documents by hash overlap, against SimHash of the bag of
    # words with as many bits (averaged over five draws of the projections).
    "bioword": [("retrieval_p10", ">=", "lsh_retrieval_p10")],
    # Test documents: same-module cosines above other-module ones by more than tf-idf's margin,
    # and precision@10 of same-module retrieval above tf-idf cosine on the same word ids.
    "jose": [
        ("cosine_gap", ">=", "bow_cosine_gap"),
        ("retrieval_p10", ">=", "bow_retrieval_p10"),
    ],
}


def main(families: list[str]) -> None:
    import torch

    torch.set_num_threads(1)
    print(HEADER)
    with tempfile.TemporaryDirectory() as tmp:  # one folder: MLflow keeps each store open
        for family in families:
            root = Path(tmp) / family
            metrics, seconds = default_run(family, root)
            picture, sample = OUTPUTS[family]
            shutil.copy(root / "plots" / "evaluate" / f"{picture}.png", GALLERY / f"{family}.png")
            shutil.copy(root / "samples" / f"{sample}.txt", GALLERY / f"{family}.txt")
            record_and_report(family, metrics, seconds, TARGETS)


if __name__ == "__main__":
    main(sys.argv[1:] or list(OUTPUTS))
