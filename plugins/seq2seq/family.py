"""The seq2seq title generator's training, evaluation and export (imported only when a stage needs
them)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from pipeline import BOS, Family, PreparedData, Vocab, pyplot
from plugins.seq2seq.baselines import baseline_titles
from plugins.seq2seq.network import DecoderStepPart, EncoderPart, Seq2Seq
from plugins.seq2seq.report import titles_table
from plugins.seq2seq.rouge import rouge_scores
from plugins.seq2seq.search import beam_search, greedy, step_context
from plugins.sequence.nll import NextTokenModule, mean_nll, next_token_nll

CHUNK = 128  # articles decoded at once
SHOWN = 10  # test articles whose titles the samples file shows
BASELINES = ("first_sentence", "constant", "nearest")  # metric suffixes of the baselines
EXAMPLES = 64  # articles of the export's parity check


class Seq2SeqModule(NextTokenModule):
    """Trains :class:`Seq2Seq` on the titles' next-character cross-entropy (teacher forcing); the
    losses are nats per title character, the end marker included."""

    def __init__(
        self, vocab: int, embedding: int, hidden: int, dropout: float, beam: int, max_title: int
    ):
        super().__init__()
        self.beam, self.max_title = beam, max_title
        self.model = Seq2Seq(vocab, embedding, hidden, dropout)

    def forward(self, ids: torch.Tensor, titles: torch.Tensor) -> torch.Tensor:
        return self.model(ids, titles[:, :-1])

    def nll(self, batch):
        ids, titles = batch
        return next_token_nll(self(ids, titles), titles[:, 1:])

    @torch.no_grad()
    def titles(self, ids: torch.Tensor, width: int | None = None) -> torch.Tensor:
        """Generated title ids ``(B, max_title)``: beam search of ``width`` (the ``beam`` setting
        when None; 1 is greedy decoding)."""
        width = width or self.beam
        encoded, step = self.model.encode(ids), DecoderStepPart(self.model)
        if width == 1:
            return greedy(step, encoded, self.max_title)[0]
        return beam_search(step, encoded, width, self.max_title)[0]


def test_nll(module: Seq2SeqModule, data: PreparedData) -> float:
    """Mean negative log-likelihood per title token of the test split (nats)."""
    return mean_nll(module.nll, data.test.x, data.test.y, rows=CHUNK)


def generate(module: Seq2SeqModule, x: np.ndarray, width: int, vocab: Vocab) -> list[str]:
    """Decoded titles of the articles ``x``."""
    rows = [
        module.titles(torch.from_numpy(x[i : i + CHUNK]), width) for i in range(0, len(x), CHUNK)
    ]
    return [vocab.decode(row) for row in torch.cat(rows).tolist()]


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


class Seq2SeqFamily(Family):
    """Builds, evaluates and exports the title generator (ONNX only: the decoder step's loop is
    the caller's, and no Keras twin is written)."""

    export_formats = ("ONNX",)

    def build(self, settings, info):
        return Seq2SeqModule(
            len(info.vocab),
            settings["embedding"],
            settings["hidden"],
            settings["dropout"],
            settings["beam"],
            settings["max_title"],
        )

    def evaluate(self, module, data, out_dir):
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

    def export_target(self, module, data):
        module.eval()
        model = module.model
        ids = torch.from_numpy(data.test.x[:EXAMPLES])
        with torch.no_grad():
            encoded = model.encode(ids)
        token = torch.from_numpy(data.test.y[:EXAMPLES, 1]).clamp_min(BOS)
        step_inputs = (token, encoded.state, *step_context(encoded))
        return {
            "encoder": (EncoderPart(model).eval(), (ids,)),
            "decoder_step": (DecoderStepPart(model).eval(), step_inputs),
        }
