"""The ON-LSTM family: builds the language model, scores it (perplexity against a plain LSTM, parse
F1 of the trees its master forget gates induce against random, balanced, right- and left-branching
trees, the gold trees by dataset from :mod:`plugins.on_lstm.gold_trees`; the names are in
:mod:`plugins.on_lstm.parse_scores`) and exports its logits."""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

from pipeline import Family, PipelineError, Vocab
from plugins.on_lstm.gold_trees import gold_trees_of
from plugins.on_lstm.model import OnLstmModule, OnLstmStep, net_nll
from plugins.on_lstm.parse_scores import parse_metrics, parse_texts, tree_scores
from plugins.on_lstm.report import save_tree_picture, write_trees
from plugins.sequence.nll import mean_nll

EVAL_BATCH = 256
EXPORT_ROWS = 16
PICTURE_TOKENS = 12


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


def parse_layer(layers: int) -> int:
    """The layer (from 0) whose distances parse: the middle one, as "Ordered Neurons" parses with
    the second of three layers; of two, the upper one (on dyck its trees beat the lower's)."""
    return layers // 2


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
        texts = [vocab.decode(row) for row in data.test.x]
        by_layer = distances(module.net, data.test.x)
        layer = parse_layer(len(by_layer))
        gold_of = gold_trees_of(data.info.dataset)
        for depth, distance in enumerate(by_layer):  # each layer's trees, read beside the chosen
            each = parse_texts(texts, distance, gold_of)
            metrics[f"parse_f1_layer{depth + 1}"] = tree_scores(each, [p.induced for p in each])[0]
        parsed = parse_texts(texts, by_layer[layer], gold_of)
        metrics |= parse_metrics(parsed) | {"parse_layer": float(layer + 1)}
        write_trees(parsed[:12], out_dir / "trees.txt")
        self.draw(module.net, data.test.x, texts, parsed, layer, out_dir)
        return metrics

    @staticmethod
    def draw(net, ids: np.ndarray, texts: list[str], parsed, layer: int, out_dir) -> None:
        """The picture of the first test string of ``PICTURE_TOKENS`` tokens or more."""
        shown = next((p for p in parsed if p.size >= PICTURE_TOKENS), parsed[0])
        row = texts.index(shown.text)
        with evaluating(net):
            _, gates = net.logits_and_gates(torch.from_numpy(ids[row : row + 1]))
        save_tree_picture(shown, gates[layer][0].numpy(), out_dir / "master_forget_gate.png")

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
