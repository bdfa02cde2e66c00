"""The seq2seq title generator's training, evaluation and export (imported only when a stage needs
them)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from pipeline import BOS, Family, PreparedData, Vocab, pyplot
from plugins.seq2seq.network import DecoderStepPart, EncoderPart, Seq2Seq
from plugins.seq2seq.search import beam_search, greedy
from plugins.sequence.nll import NextTokenModule, mean_nll, next_token_nll

CHUNK = 128  # articles decoded at once
SHOWN = 40  # test articles whose titles the samples file shows
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


def rouge_l(predictions: list[str], references: list[str]) -> np.ndarray:
    """ROUGE-L F of each prediction against its reference (``rouge-score``'s word tokens)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    return np.array(
        [
            scorer.score(r, p)["rougeL"].fmeasure
            for p, r in zip(predictions, references, strict=True)
        ]
    )


def lead_title(article: str, characters: int) -> str:
    """The baseline title: the article's first sentence, cut at ``characters``."""
    first = article.split(". ")[0]
    return first[:characters]


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
    """Bars of the mean ROUGE-L F per title source, with the spread across articles."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = list(scores)
    ax.bar(names, [s.mean() for s in scores.values()], color=["C0", "C1", "C7"][: len(names)])
    for i, s in enumerate(scores.values()):
        ax.text(i, s.mean(), f"{s.mean():.3f}", ha="center", va="bottom")
    ax.set_ylabel("mean ROUGE-L F (test)")
    ax.set_title("generated titles vs the article's first sentence")
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
        cap = data.test.y.shape[1] - 2
        beamed = generate(module, data.test.x, module.beam, vocab)
        greedy_titles = generate(module, data.test.x, 1, vocab)
        leads = [lead_title(a, cap) for a in articles]
        scores = {
            f"beam {module.beam}": rouge_l(beamed, references),
            "greedy": rouge_l(greedy_titles, references),
            "first sentence": rouge_l(leads, references),
        }
        save_scores(scores, Path(out_dir) / "rouge_l.png")
        lines = []
        for i in range(min(SHOWN, len(articles))):
            lines += [
                f"article:   {articles[i][:120]}",
                f"reference: {references[i]}",
                f"generated: {beamed[i]}",
                f"baseline:  {leads[i]}",
                "",
            ]
        (Path(out_dir) / "titles.txt").write_text("\n".join(lines))
        nll = test_nll(module, data)
        return {
            "rouge_l": float(scores[f"beam {module.beam}"].mean()),
            "rouge_l_greedy": float(scores["greedy"].mean()),
            "baseline_rouge_l": float(scores["first sentence"].mean()),
            "test_loss": nll,
            "perplexity": math.exp(nll),
        }

    def export_target(self, module, data):
        module.eval()
        model = module.model
        ids = torch.from_numpy(data.test.x[:EXAMPLES])
        with torch.no_grad():
            encoded = model.encode(ids)
        token = torch.from_numpy(data.test.y[:EXAMPLES, 1]).clamp_min(BOS)
        step_inputs = (token, *encoded[3:], *encoded[:3])
        return {
            "encoder": (EncoderPart(model).eval(), (ids,)),
            "decoder_step": (DecoderStepPart(model).eval(), step_inputs),
        }
