"""The ON-LSTM family: monotone master gates, a plain LSTM when they are ones, trees from distances
scored against the brackets, a short run that learns, and an ONNX export of its logits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from pipeline.export.onnx_format import export_onnx, run_onnx_outputs
from pipeline.params.hydra_groups import compose_params
from plugins.on_lstm.cell import OnLstmCell
from plugins.on_lstm.parse import top_down_tree
from plugins.on_lstm.parse_scores import ParsedText, parse_metrics
from plugins.on_lstm.span_f1 import corpus_f1, nontrivial, span_counts, span_f1
from plugins.on_lstm.trivial_trees import balanced, random_binary, right_branching
from plugins.text.generated import bracket_spans
from tests.family_kit import ADAM, CONF, build, fit, prepared, recipe
from tests.project_kit import composed

pytestmark = pytest.mark.usefixtures("one_thread")


EXAMPLES, EPOCHS = 1000, 6  # a third of the recipe's data, half its epochs
MARGIN = 0.05  # a parse F1 this far above the best trivial tree's is no accident


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The recipe's ON-LSTM fitted on fewer bracket strings for fewer epochs, with its evaluation
    before and after."""
    data = prepared("dyck", examples=EXAMPLES)
    settings, _ = recipe("on_lstm")
    family, module = build("on_lstm", data, **settings)
    before = family.evaluate(module, data, tmp_path_factory.mktemp("untrained"))
    lr = composed("model=on_lstm")["optimizer"]["lr"]
    fit(module, data, optimizer={**ADAM, "lr": lr}, max_epochs=EPOCHS)
    out = tmp_path_factory.mktemp("evaluate")
    return data, family, module, before, family.evaluate(module, data, out), out


def test_master_gates_are_monotone_levels_in_every_row():
    torch.manual_seed(0)
    cell = OnLstmCell(inputs=5, hidden=24, chunk_size=3)
    logits = 20 * torch.randn(500, 4 * 24 + 2 * cell.levels)  # saturated as well as soft rows
    forget, write = cell.master_gates(logits)
    assert forget.shape == write.shape == (500, 8)
    assert (forget.diff(dim=1) >= 0).all() and (write.diff(dim=1) <= 0).all()
    for gate in (forget, write):
        assert ((gate >= 0) & (gate <= 1)).all()


def test_gates_of_a_running_layer_are_monotone(trained):
    data, _, module, *_ = trained
    _, gates = module.net.eval().logits_and_gates(torch.from_numpy(data.test.x[:64]))
    levels = module.net.rnn.cells[0].levels
    assert gates[0].shape == (64, data.test.x.shape[1], levels)
    assert (gates[0].diff(dim=-1) >= 0).all() and ((gates[0] >= 0) & (gates[0] <= 1)).all()


def test_cell_with_master_gates_forced_to_ones_is_an_lstm_cell():
    torch.manual_seed(0)
    hidden, inputs, batch = 12, 7, 5
    cell, reference = OnLstmCell(inputs, hidden, chunk_size=4), nn.LSTMCell(inputs, hidden)
    with torch.no_grad():
        for mine, theirs in ((cell.ih, "ih"), (cell.hh, "hh")):
            mine.weight[: 4 * hidden] = getattr(reference, f"weight_{theirs}")
            mine.bias[: 4 * hidden] = getattr(reference, f"bias_{theirs}")
    ones = torch.ones(batch, cell.levels)
    h, c = torch.randn(batch, hidden), torch.randn(batch, hidden)
    h_ref, c_ref = h, c
    for x in torch.randn(6, batch, inputs):  # several steps, so the state carries through
        h, c, _ = cell(cell.ih(x), (h, c), master=(ones, ones))
        h_ref, c_ref = reference(x, (h_ref, c_ref))
        torch.testing.assert_close(h, h_ref, atol=1e-6, rtol=0)
        torch.testing.assert_close(c, c_ref, atol=1e-6, rtol=0)


def reference_build_tree(depth, sen):
    """``build_tree`` of the Ordered-Neurons repository's ``test_phrase_grammar.py``, verbatim but
    for names: the trees our spans must equal."""
    if len(depth) == 1:
        return sen[0]
    top = int(np.argmax(depth))
    tree = [reference_build_tree(depth[:top], sen[:top])] if top > 0 else []
    right = (
        sen[top]
        if top + 1 == len(sen)
        else [sen[top], reference_build_tree(depth[top + 1 :], sen[top + 1 :])]
    )
    return right if not tree else [*tree, right]


def reference_brackets(tree, start=0):
    """``get_brackets`` of the same file: the spans of two tokens or more below the root."""
    if not isinstance(tree, list):
        return set(), start + 1
    spans = set()
    for node in tree:
        inner, end = reference_brackets(node, start)
        if end - start > 1:
            spans |= inner | {(start, end)}
        start = end
    return spans, start


def test_top_down_split_of_a_hand_made_distance_vector():
    # "(())()" read with the depth-ordered distances a trained first layer shows: the largest (3)
    # opens the second pair; "(" at 0 heads the rest; inside, ")" at 3 closes the inner pair.
    text, distances = "(())()", [2.0, 1.0, 0.5, 1.5, 3.0, 2.5]
    induced = top_down_tree(distances)
    assert induced == [(0, 4), (0, 6), (1, 3), (1, 4), (4, 6)]
    gold = bracket_spans(text)
    assert gold == [(0, 4), (1, 3), (4, 6)]
    # Non-trivial: induced {(0,4),(1,3),(1,4),(4,6)} against gold {(0,4),(1,3),(4,6)}: P 3/4, R 1.
    assert span_f1(induced, gold, 6) == pytest.approx(6 / 7)
    assert top_down_tree([0.0, 5.0, 1.0]) == [(0, 3), (1, 3)]  # the top token heads the right part
    assert top_down_tree([5.0, 1.0, 2.0]) == [(0, 3), (1, 3)]  # the first token heads everything


def test_top_down_split_equals_the_papers_build_tree():
    rng = np.random.default_rng(0)
    for n in [2, 3, 4, 7, 12, 25] * 40:
        d = rng.integers(0, 4, size=n).astype(float)  # small integers: ties too
        tree = reference_build_tree(list(d), list(range(n)))
        assert set(top_down_tree(d)) - {(0, n)} == reference_brackets(tree)[0]


def test_trivial_trees_and_their_f1_on_hand_made_trees():
    assert right_branching(4) == [(0, 4), (1, 4), (2, 4)]
    assert balanced(5) == [(0, 2), (0, 5), (2, 5), (3, 5)]
    gold = bracket_spans("(())()")  # {(0,4),(1,3),(4,6)}
    # Right-branching {(1,6),(2,6),(3,6),(4,6)} holds only (4,6): P 1/4, R 1/3.
    assert span_f1(right_branching(6), gold, 6) == pytest.approx(2 / 7)
    # Balanced {(0,3),(1,3),(3,6),(4,6)} holds (1,3) and (4,6): P 2/4, R 2/3.
    assert balanced(6) == [(0, 3), (0, 6), (1, 3), (3, 6), (4, 6)]
    assert span_f1(balanced(6), gold, 6) == pytest.approx(4 / 7)
    # Corpus F1 pools the spans: (3 hits, 4 found, 3 wanted) + (2, 4, 3) = (5, 8, 6).
    counts = [
        span_counts(top_down_tree([2, 1, 0.5, 1.5, 3, 2.5]), gold, 6),
        span_counts(balanced(6), gold, 6),
    ]
    assert counts == [(3, 4, 3), (2, 4, 3)]
    assert corpus_f1(counts) == pytest.approx(2 * (5 / 8) * (5 / 6) / (5 / 8 + 5 / 6))
    assert nontrivial(right_branching(4), 4) == {(1, 4), (2, 4)}


def test_random_trees_are_binary_and_split_uniformly():
    rng = np.random.default_rng(0)
    for n in range(2, 15):
        spans = random_binary(n, rng)
        assert len(spans) == n - 1 and (0, n) in spans  # a binary tree has n - 1 inner nodes
        for a, b in spans:  # any two spans nest or are disjoint
            assert all(
                d <= a or c >= b or (c <= a and b <= d) or (a <= c and d <= b) for c, d in spans
            )
    left = np.mean([(0, 2) in random_binary(3, rng) for _ in range(2000)])
    assert 0.45 < left < 0.55


def test_parse_metrics_of_hand_made_parses():
    gold = bracket_spans("(())()")
    parsed = [
        ParsedText(
            "(())()", gold, top_down_tree([2, 1, 0.5, 1.5, 3, 2.5]), balanced(6), right_branching(6)
        )
    ]
    metrics = parse_metrics(parsed)
    assert metrics["parse_f1"] == pytest.approx(6 / 7)
    assert metrics["parse_corpus_f1"] == pytest.approx(6 / 7)
    assert metrics["parse_f1_balanced"] == pytest.approx(4 / 7)
    assert metrics["parse_f1_right_branching"] == pytest.approx(2 / 7)
    random = [metrics[f"parse_f1_random{s}"] for s in ("_low", "", "_high")]
    assert 0 <= random[0] <= random[1] <= random[2] <= 1 and random[0] < random[2]


def test_a_short_run_induces_trees_above_every_trivial_tree(trained):
    *_, before, after, out = trained
    # Untrained, it is close to uniform over the 8 symbols; the short run brings it below 3.
    assert before["perplexity"] > 6.0 and after["perplexity"] < 3.1, (before, after)
    assert after["perplexity"] < 1.10 * after["lstm_perplexity"], after  # 1.07 measured
    best_trivial = max(
        after[f"parse_f1_{k}"] for k in ("random_high", "balanced", "right_branching")
    )
    # After this short run the lower layer already parses (0.29 measured against ≈0.21); the upper
    # layer, which the full recipe parses with, needs the full run (see docs/sequence.md).
    assert after["parse_f1_layer1"] > best_trivial + MARGIN, after
    assert after["parse_layer"] == 2 and after["parse_f1"] == after["parse_f1_layer2"]
    assert all(math.isfinite(v) for v in after.values())
    trees = (out / "trees.txt").read_text(encoding="utf-8")
    assert trees.count("gold:") >= 3 and "induced:" in trees
    assert (out / "master_forget_gate.png").stat().st_size > 0


def test_the_exported_step_replays_the_language_model_and_matches_onnxruntime(trained, tmp_path):
    data, family, module, *_ = trained
    ((step, inputs),) = family.export_target(module, data).values()
    ids = torch.from_numpy(data.test.x[:5])
    # Stepping token by token from the zero state gives the whole-sequence logits.
    h, c = step.start_state(len(ids))
    with torch.no_grad():
        expected = module.net.eval()(ids)
        for position in range(ids.shape[1]):
            logits, h, c = step(ids[:, position], h, c)
            torch.testing.assert_close(logits, expected[:, position], rtol=0, atol=1e-5)
    path = tmp_path / "step.onnx"
    export_onnx(step, inputs, path)
    with torch.no_grad():
        want = step(*(t[:3] for t in inputs))
    got = run_onnx_outputs(path, [t[:3].numpy() for t in inputs])
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-4)


def test_recipe_defaults_to_the_bracket_language_and_data_still_switches():
    settings, _ = recipe("on_lstm")
    assert settings["hidden"] % settings["chunk_size"] == 0
    assert compose_params(CONF, ["model=on_lstm"])["data"]["name"] == "dyck"
    assert compose_params(CONF, ["model=on_lstm", "data=docstrings"])["data"]["name"] == (
        "docstrings"
    )
