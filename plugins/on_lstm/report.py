"""What the ON-LSTM's evaluation leaves to read: induced trees beside the gold ones, and a picture
of the master forget gate over one string."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import pyplot
from plugins.on_lstm.parse import bracketed, nontrivial, span_f1


def write_trees(parsed, path: Path) -> None:
    """Write each string with its induced, right-branching and gold trees (non-trivial spans in
    ⟨ ⟩) and the induced tree's F1."""
    blocks = []
    for text, induced, right, gold in parsed:
        n = len(text)
        blocks.append(
            "\n".join(
                [
                    f"string:          {text}",
                    f"induced:         {bracketed(text, nontrivial(induced, n))}",
                    f"right-branching: {bracketed(text, nontrivial(right, n))}",
                    f"gold:            {bracketed(text, nontrivial(gold, n))}",
                    f"induced F1 {span_f1(induced, gold, n):.2f}, "
                    f"right-branching F1 {span_f1(right, gold, n):.2f}",
                ]
            )
        )
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def save_gates(text: str, gates: np.ndarray, path: Path) -> None:
    """Draw the master forget gate ``(time, levels)`` over ``BOS text EOS`` as a heat map, with the
    syntactic distance (levels − Σ gate) of each step beneath it."""
    plt = pyplot()
    steps = len(text) + 2
    gates = gates[:steps]
    labels = ["<s>", *text.replace(" ", "␣"), "</s>"][: len(gates)]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(max(6, 0.3 * len(labels)), 5), sharex=True, height_ratios=(2, 1)
    )
    top.imshow(gates.T, aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=1)
    top.set(ylabel="level", title="Master forget gate f̃ (1 keeps the level's memory)")
    bottom.bar(np.arange(len(labels)), gates.shape[1] - gates.sum(1), color="tab:orange")
    bottom.set(ylabel="distance d_t")
    bottom.set_xticks(np.arange(len(labels)), labels, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
