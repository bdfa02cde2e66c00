"""The ON-LSTM family: builds the language model, scores it (perplexity against a plain LSTM, parse
F1 of the trees its master forget gates induce against a right-branching tree) and exports its
logits."""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

from pipeline import Family, PipelineError, Vocab
from plugins.on_lstm.model import OnLstmModule, OnLstmStep, net_nll
from plugins.on_lstm.parse import distance_tree, right_branching, span_f1
from plugins.on_lstm.report import save_gates, write_trees
from plugins.sequence.nll import mean_nll
from plugins.text.generated import bracket_spans

EVAL_BATCH = 256
EXPORT_ROWS = 16


@contextmanager
def evaluating(net: torch.nn.Module) -> Iterator[None]:
    """Eval mode without gradients for the block; the net's mode is restored after it."""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        net.train(was_training)


def batches(ids: np.ndarray) -> Iterator[torch.Tensor]:
    """``ids`` in consecutive batches of ``EVAL_BATCH`` rows, as tensors."""
    for start in range(0, len(ids), EVAL_BATCH):
        yield torch.from_numpy(ids[start : start + EVAL_BATCH])


def perplexity(net: torch.nn.Module, ids: np.ndarray) -> float:
    """exp of the mean next-token negative log-likelihood over the non-``PAD`` tokens of ``ids``."""
    with evaluating(net):
        return math.exp(mean_nll(lambda batch: net_nll(net, batch[0]), ids, rows=EVAL_BATCH))


def distances(net, ids: np.ndarray) -> list[np.ndarray]:
    """Per layer, the syntactic distances ``(rows, time)``: levels − Σ master forget gate, at the
    step that reads each token."""
    layers = []
    with evaluating(net):
        for batch in batches(ids):
            _, gates = net.logits_and_gates(batch)
            layers.append([(g.shape[-1] - g.sum(-1)).numpy() for g in gates])
    return [np.concatenate(parts) for parts in zip(*layers, strict=True)]


def parses(texts: list[str], distance: np.ndarray) -> list[tuple[str, list, list, list]]:
    """``(text, induced spans, right-branching spans, gold spans)`` for each text of three tokens or
    more (shorter ones have no non-trivial span); position 0 of a row is ``BOS``."""
    return [
        (text, distance_tree(d[1 : len(text) + 1]), right_branching(len(text)), bracket_spans(text))
        for text, d in zip(texts, distance, strict=True)
        if len(text) >= 3
    ]


def mean_f1(parsed, which: int) -> float:
    """Sentence-averaged F1 of the trees at index ``which`` of each parse against the gold."""
    return float(np.mean([span_f1(p[which], p[3], len(p[0])) for p in parsed])) if parsed else 0.0


class OnLstmFamily(Family):
    """Builds, evaluates and exports the ON-LSTM language model."""

    export_formats = ("ONNX",)  # no Keras twin: the cumax master gates have no Keras layer

    def build(self, settings, info):
        if not info.vocab:
            raise PipelineError(
                f"on_lstm reads token ids, but dataset {info.dataset!r} has no vocabulary; "
                "pick a text dataset such as dyck."
            )
        if settings["hidden"] % settings["chunk_size"]:
            raise PipelineError(
                f"model.hidden = {settings['hidden']} is not a multiple of model.chunk_size = "
                f"{settings['chunk_size']}; the master gates need hidden / chunk_size levels."
            )
        return OnLstmModule(
            len(info.vocab),
            settings["embedding"],
            settings["hidden"],
            settings["chunk_size"],
            settings["layers"],
            settings["dropout"],
            settings["baseline"],
        )

    def evaluate(self, module, data, out_dir):
        vocab = Vocab(data.info.vocab)
        metrics = {"perplexity": perplexity(module.net, data.test.x)}
        if module.baseline is not None:
            metrics["lstm_perplexity"] = perplexity(module.baseline, data.test.x)
        # The layer whose trees fit the validation split best parses the test split.
        val_texts = [vocab.decode(row) for row in data.val.x]
        val_f1 = [mean_f1(parses(val_texts, d), 1) for d in distances(module.net, data.val.x)]
        layer = int(np.argmax(val_f1))
        texts = [vocab.decode(row) for row in data.test.x]
        distance = distances(module.net, data.test.x)[layer]
        parsed = parses(texts, distance)
        metrics |= {
            "parse_f1": mean_f1(parsed, 1),
            "right_branching_f1": mean_f1(parsed, 2),
            "parse_layer": float(layer + 1),
        }
        write_trees(parsed[:12], out_dir / "trees.txt")
        row = next((k for k, t in enumerate(texts) if len(t) >= 8), 0)
        with evaluating(module.net):
            _, gates = module.net.logits_and_gates(torch.from_numpy(data.test.x[row : row + 1]))
        save_gates(texts[row], gates[layer][0].numpy(), out_dir / "master_forget_gate.png")
        return metrics

    def export_target(self, module, data):
        """One step of the LM (token, state → logits, state), checked on the state the test rows'
        first tokens lead to."""
        step = OnLstmStep(module.net).eval()
        ids = torch.from_numpy(data.test.x[:EXPORT_ROWS])
        h, c = step.start_state(len(ids))
        read = min(3, ids.shape[1] - 1)
        with torch.no_grad():
            for position in range(read):
                _, h, c = step(ids[:, position], h, c)
        return {"step": (step, (ids[:, read].contiguous(), h, c))}
