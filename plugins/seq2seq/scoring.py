"""What every title generator's evaluate reports: ROUGE-1/2/L of its beam-search and greedy titles
beside three baselines computed on the spot (the whole first sentence, the best constant training
title, the tf-idf nearest training article's title), a bar chart of ROUGE-L and a table of test
articles with their titles; plus the test loss and perplexity the family measures."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from pipeline import PreparedData, Vocab, pyplot
from plugins.seq2seq.baselines import baseline_titles
from plugins.seq2seq.report import titles_table
from plugins.seq2seq.rouge import rouge_scores
from plugins.sequence.nll import mean_nll

CHUNK = 128  # articles decoded at once
SHOWN = 10  # test articles whose titles the samples file shows
BASELINES = ("first_sentence", "constant", "nearest")  # metric suffixes of the baselines


class TitleModule(Protocol):
    """What a title generator's Lightning module offers evaluate."""

    beam: int

    def nll(self, batch) -> torch.Tensor: ...

    def titles(self, ids: torch.Tensor, width: int | None = None) -> torch.Tensor: ...


def test_nll(module: TitleModule, data: PreparedData) -> float:
    """Mean negative log-likelihood per title token of the test split (nats)."""
    return mean_nll(module.nll, data.test.x, data.test.y, rows=CHUNK)


def generate(module: TitleModule, x: np.ndarray, width: int, vocab: Vocab) -> list[str]:
    """Decoded titles of the articles ``x``, by beam search of ``width`` (1: greedy)."""
    rows = [
        module.titles(torch.from_numpy(x[i : i + CHUNK]), width) for i in range(0, len(x), CHUNK)
    ]
    return [vocab.decode(row) for row in torch.cat(rows).tolist()]


@torch.no_grad()
def score_titles(module: TitleModule, data: PreparedData, out_dir: Path) -> dict[str, float]:
    """The metrics of the titles ``module`` writes for the test articles (``rouge_l``,
    ``rouge_l_greedy``, ``rouge_l_nearest``…, ``test_loss``, ``perplexity``); writes
    ``rouge_l.png`` and ``titles.txt`` to ``out_dir``."""
    module.eval()
    vocab = Vocab(data.info.vocab)
    articles = [vocab.decode(row) for row in data.test.x]
    references = [vocab.decode(row) for row in data.test.y]
    titles = {
        "": generate(module, data.test.x, module.beam, vocab),
        "greedy": generate(module, data.test.x, 1, vocab),
        **baseline_titles(
            articles,
            [vocab.decode(row) for row in data.train.x],
            [vocab.decode(row) for row in data.train.y],
        ),
    }
    scores = {source: rouge_scores(t, references) for source, t in titles.items()}
    metrics = {
        f"{name}_{source}".rstrip("_"): float(values.mean())
        for source, by_name in scores.items()
        for name, values in by_name.items()
    }
    bars = {source or f"beam {module.beam}": s["rouge_l"] for source, s in scores.items()}
    save_scores(bars, Path(out_dir) / "rouge_l.png")
    best = max(BASELINES, key=lambda source: metrics[f"rouge_l_{source}"])
    table = titles_table(articles, references, titles[best], titles[""], best, SHOWN)
    (Path(out_dir) / "titles.txt").write_text(table)
    nll = test_nll(module, data)
    return {**metrics, "test_loss": nll, "perplexity": math.exp(nll)}


def save_scores(scores: dict[str, np.ndarray], path: Path) -> None:
    """Bars of the mean ROUGE-L F per title source."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(scores)
    ax.bar(names, [s.mean() for s in scores.values()], color=[f"C{i}" for i in range(len(names))])
    for i, s in enumerate(scores.values()):
        ax.text(i, s.mean(), f"{s.mean():.3f}", ha="center", va="bottom")
    ax.set_ylabel("mean ROUGE-L F (test)")
    ax.set_title("generated titles vs the baselines")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
