"""What plug-and-play control's evaluation leaves to read: sampled texts with the label the referee
reads in each, and a picture of steered against unsteered label accuracy and perplexity."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import PreparedData, Vocab, pyplot

SHOWN = 8  # texts shown per requested label


def label_names(data: PreparedData) -> list[str]:
    """The dataset's label names, or the label ids."""
    return list(data.info.labels) or [str(c) for c in range(data.info.num_classes)]


def write_samples(data, texts, read, per_label: int, module, path: Path) -> None:
    """``generated.txt``: per requested label, texts steered toward it, then unsteered texts;
    each text marked with the label the referee reads when that is not the requested one."""
    vocab, names, s = Vocab(data.info.vocab), label_names(data), module.steering
    lines = [
        f"# texts steered toward each label (step size {s.step_size:g}, {s.steps} steps, "
        f"KL weight {s.kl_weight:g}, fusion {s.fusion:g}, classifier reads {s.reads}), sampled at "
        f"temperature {module.temperature:g}; the unsteered texts at the end"
    ]
    for label, name in enumerate(names):
        lines += ["", f"## {name}"]
        for index in range(label * per_label, label * per_label + SHOWN):
            lines.append(
                _line(vocab, texts["steered"][index], read["steered"][index], label, names)
            )
    lines += ["", "## unsteered"]
    for row, read_as in zip(texts["unsteered"][:SHOWN], read["unsteered"][:SHOWN], strict=True):
        lines.append(f"  {vocab.decode(row)}   [read as {names[read_as]}]")
    path.write_text("\n".join(lines) + "\n")


def _line(vocab: Vocab, row, read_as: int, label: int, names: list[str]) -> str:
    mark = "" if read_as == label else f"   [read as {names[read_as]}]"
    return f"  {vocab.decode(row)}{mark}"


def draw_report(metrics, per_label, data, path: Path) -> None:
    """Left: the share of each label's texts read as that label, steered and unsteered. Right:
    perplexity under the language model of test text, unsteered and steered generations."""
    plt = pyplot()
    names = label_names(data)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    at = np.arange(len(names))
    left.bar(at - 0.2, per_label["steered"], 0.4, label="steered", color="C2")
    left.bar(at + 0.2, per_label["unsteered"], 0.4, label="unsteered", color="C7")
    left.axhline(metrics["referee_accuracy"], color="k", ls="--", label="referee, real text")
    left.set(ylim=(0, 1.25), ylabel="read as the requested label", title="Generated text")
    left.set_xticks(at, names, rotation=30)
    left.legend(loc="upper center", ncol=3, fontsize="small")
    bars = {
        "perplexity": "test text",
        "unsteered_perplexity": "unsteered",
        "steered_perplexity": "steered",
    }
    right.bar(list(bars.values()), [metrics[k] for k in bars], color=["C0", "C7", "C2"])
    right.set(ylabel="perplexity under the language model", title="Fluency")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
