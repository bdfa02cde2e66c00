"""The conditional-LayerNorm language model's training, evaluation and export (imported only when a
stage needs them)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from pipeline import Family, PreparedData, Vocab, pyplot
from plugins.cln_lm.baselines import (
    bigram_perplexity,
    label_bigram_perplexity,
    unigram_perplexity,
)
from plugins.cln_lm.model import ConditionalLM
from plugins.cln_lm.referee import Referee
from plugins.cln_lm.sizes import transformer_sizes
from plugins.sequence.nll import NextTokenModule, mean_nll, next_token_nll

PER_LABEL = 100  # generated texts per label that the referee reads
SHOWN = 8  # of which the samples file shows this many


class CLNModule(NextTokenModule):
    """Trains :class:`ConditionalLM` on next-token cross-entropy given each row's label."""

    def __init__(self, temperature: float, **sizes):
        super().__init__()
        self.temperature = temperature
        self.lm = ConditionalLM(**sizes)

    @property
    def capture_modules(self) -> tuple[str, ...]:
        """What the ``capture`` trick records by default: each block's attention maps (softmax
        attention; linear attention forms none, so each block's attention output)."""
        kind = self.lm.blocks[0].attention.kind
        return ("lm.blocks.*.attention.map",) if kind == "softmax" else ("lm.blocks.*.attention",)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.lm(tokens, labels)

    def nll(self, batch):
        rows, labels = batch
        return next_token_nll(self(rows[:, :-1], labels).log_softmax(-1), rows[:, 1:])


def perplexity(module: CLNModule, rows: np.ndarray, labels: np.ndarray) -> float:
    """exp of the mean negative log-likelihood per predicted token of ``rows`` given ``labels``."""
    return math.exp(mean_nll(module.nll, rows, labels))


class CLNFamily(Family):
    """Builds, evaluates and exports the conditional LM (to ONNX: it has no Keras twin)."""

    export_formats = ("ONNX",)

    def build(self, settings, info):
        return CLNModule(
            settings["temperature"],
            labels=max(info.num_classes, 1),
            **transformer_sizes(settings, info),
        )

    @torch.no_grad()
    def evaluate(self, module, data, out_dir):
        lm = module.lm.eval()
        classes = max(data.info.num_classes, 1)
        wanted = torch.arange(classes).repeat_interleave(PER_LABEL)
        generated = lm.generate(
            wanted, module.temperature, torch.Generator().manual_seed(0)
        ).numpy()
        metrics = {
            "perplexity": perplexity(module, data.test.x, data.test.y),
            "unigram_perplexity": unigram_perplexity(data),
            "unconditional_perplexity": bigram_perplexity(data),
        }
        read, per_label = wanted.numpy(), []
        if classes > 1:  # a dataset without labels (dyck) has no condition to follow
            referee = Referee(data)
            read = referee.predict(generated)
            per_label = [float((read[wanted == c] == c).mean()) for c in range(classes)]
            # The label each test text was not written for: how much the condition carries.
            shifted = (data.test.y + 1) % classes
            metrics |= {
                "wrong_label_perplexity": perplexity(module, data.test.x, shifted),
                "label_bigram_perplexity": label_bigram_perplexity(data),
                "label_bigram_known_length_perplexity": label_bigram_perplexity(data, True),
                "label_accuracy": float(np.mean(per_label)),
                "label_accuracy_min": min(per_label),
                "referee_accuracy": referee.accuracy,
            }
        greedy = lm.generate(torch.arange(classes), 0.0).numpy()
        write_samples(data, generated, greedy, read, module.temperature, out_dir)
        draw_report(metrics, per_label, label_names(data), out_dir / "conditional_lm.png")
        return metrics

    def export_target(self, module, data):
        rows = torch.from_numpy(data.test.x[:, :-1])
        return module.lm.eval(), (rows, torch.from_numpy(data.test.y))


def label_names(data: PreparedData) -> list[str]:
    """The dataset's label names, or the label ids."""
    classes = max(data.info.num_classes, 1)
    return list(data.info.labels) or [str(c) for c in range(classes)]


def write_samples(data, generated, greedy, read, temperature, out_dir: Path) -> None:
    """``generated.txt``: per requested label, its greedy text and sampled texts, each sampled text
    marked with the label the referee reads when that is another one."""
    vocab, names = Vocab(data.info.vocab), label_names(data)
    lines = [f"# texts generated for each label (sampled at temperature {temperature:g})"]
    for label, name in enumerate(names):
        lines += ["", f"## {name}", f"greedy: {vocab.decode(greedy[label])}"]
        for index in range(label * PER_LABEL, label * PER_LABEL + SHOWN):
            mark = "" if read[index] == label else f"   [read as {names[read[index]]}]"
            lines.append(f"  {vocab.decode(generated[index])}{mark}")
    (out_dir / "generated.txt").write_text("\n".join(lines) + "\n")


def draw_report(metrics, per_label, names, path: Path) -> None:
    """Perplexities against the baselines, and (with labels) the referee's reading of each
    label's texts."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2 if per_label else 1, figsize=(10 if per_label else 5, 4))
    axes = np.atleast_1d(axes)
    bars = {
        "perplexity": ("model", "C0"),
        "wrong_label_perplexity": ("wrong label", "C1"),
        "label_bigram_known_length_perplexity": ("bigram per label,\nlength told", "C7"),
        "label_bigram_perplexity": ("bigram\nper label", "C7"),
        "unconditional_perplexity": ("bigram", "C7"),
        "unigram_perplexity": ("unigram", "C7"),
    }
    shown = [key for key in bars if key in metrics]
    axes[0].bar(
        [bars[k][0] for k in shown], [metrics[k] for k in shown], color=[bars[k][1] for k in shown]
    )
    axes[0].set(ylabel="test perplexity (per token)", title="Perplexity against baselines")
    if per_label:
        right = axes[1]
        right.bar(names, per_label, color="C2")
        right.axhline(metrics["referee_accuracy"], color="k", ls="--", label="referee, real text")
        right.set(ylim=(0, 1.05), ylabel="read as the requested label", title="Generated text")
        right.tick_params(axis="x", rotation=30)
        right.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
