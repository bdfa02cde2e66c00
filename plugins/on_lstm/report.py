"""What the ON-LSTM's evaluation leaves to read: induced trees beside the gold and trivial ones, and
a picture of one string's induced and gold trees over its master forget gate levels."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline import pyplot
from plugins.on_lstm.parse import Span, bracketed
from plugins.on_lstm.parse_scores import ParsedText
from plugins.on_lstm.span_f1 import nontrivial, span_f1


def write_trees(parsed: Sequence[ParsedText], path: Path) -> None:
    """Write each string with its induced, gold, balanced and right-branching trees (non-trivial
    spans in ⟨ ⟩) and each tree's F1."""
    blocks = []
    for p in parsed:
        n = p.size
        rows = [f"string:          {p.text}"]
        for name in ("induced", "gold", "balanced", "right_branching"):
            spans = getattr(p, name)
            rows.append(
                f"{name.replace('_', '-') + ':':17}{bracketed(p.tokens, nontrivial(spans, n))}"
            )
        rows.append(
            ", ".join(
                f"{name} F1 {span_f1(getattr(p, name), p.gold, n):.2f}"
                for name in ("induced", "balanced", "right_branching")
            )
        )
        blocks.append("\n".join(rows))
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def draw_tree(axis, spans: Sequence[Span], n: int, title: str) -> None:
    """Draw the non-trivial spans of a tree over ``n`` tokens as nested brackets, the whole string
    at the top and each span one row below its parent."""
    shown = sorted(nontrivial(spans, n) | {(0, n)}, key=lambda s: (s[0], -s[1]))
    open_spans: list[Span] = []
    for start, end in shown:
        while open_spans and open_spans[-1][1] <= start:
            open_spans.pop()
        row = -len(open_spans)
        axis.plot(
            [start - 0.4, start - 0.4, end - 0.6, end - 0.6], [row - 0.6, row, row, row - 0.6]
        )
        open_spans.append((start, end))
    axis.set(title=title, yticks=[])


def save_tree_picture(parsed: ParsedText, gates: np.ndarray, path: Path) -> None:
    """One string's induced and gold trees above its master forget gate ``(time, levels)`` (the
    steps that read the string's tokens) as a heat map, and the syntactic distance of each step
    (levels − Σ gate) beneath."""
    plt = pyplot()
    n = parsed.size
    gates = gates[1:][list(parsed.starts) or slice(n)]  # step 0 reads BOS
    labels = [token.replace(" ", "␣") for token in parsed.tokens]
    fig, axes = plt.subplots(
        4, 1, figsize=(max(6, 0.35 * n), 9), sharex=True, height_ratios=(2, 2, 2, 1.2)
    )
    f1 = span_f1(parsed.induced, parsed.gold, n)
    draw_tree(axes[0], parsed.induced, n, f"Induced tree (top-down split), F1 {f1:.2f}")
    draw_tree(axes[1], parsed.gold, n, "Gold tree")
    axes[2].imshow(gates.T, aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=1)
    axes[2].set(ylabel="level", title="Master forget gate f̃ (1 keeps the level's memory)")
    axes[3].bar(np.arange(n), gates.shape[1] - gates.sum(1), color="tab:orange")
    axes[3].set(ylabel="distance d_t")
    axes[3].set_xticks(np.arange(n), labels, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
