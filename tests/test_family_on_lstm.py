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
from plugins.on_lstm.parse import distance_tree, nontrivial, right_branching, span_f1
from plugins.text.generated import bracket_spans
from tests.family_kit import ADAM, CONF, build, fit, prepared, recipe

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small ON-LSTM fitted for a few epochs on the bracket language, with its evaluation."""
    data = prepared("dyck", examples=800)
    family, module = build("on_lstm", data, embedding=16, hidden=32, chunk_size=4)
    before = family.evaluate(module, data, tmp_path_factory.mktemp("untrained"))
    fit(module, data, optimizer={**ADAM, "lr": 1e-2}, batch_size=32, max_epochs=4)
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
    assert gates[0].shape == (64, data.test.x.shape[1], 8)
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


def test_trees_split_at_the_largest_distance_and_score_against_brackets():
    # "(())()": the largest distance (before token 4) splits off "()", then "(" and ")" come off.
    text, distances = "(())()", [0, 3, 0, 2, 5, 0]
    induced = distance_tree(distances)
    assert induced == [(0, 4), (0, 6), (1, 3), (1, 4), (4, 6)]
    gold = bracket_spans(text)
    assert gold == [(0, 4), (1, 3), (4, 6)]
    # Non-trivial: induced {(0,4),(1,3),(1,4),(4,6)}, gold {(0,4),(1,3),(4,6)}: P 3/4, R 1.
    assert span_f1(induced, gold, 6) == pytest.approx(2 * 0.75 / 1.75)
    assert right_branching(4) == [(0, 4), (1, 4), (2, 4)]
    assert nontrivial(right_branching(4), 4) == {(1, 4), (2, 4)}
    # Right-branching: {(1,6),(2,6),(3,6),(4,6)} holds only (4,6): P 1/4, R 1/3.
    assert span_f1(right_branching(6), gold, 6) == pytest.approx(2 / 7)


def test_a_short_run_learns_the_bracket_language_and_parses_above_right_branching(trained):
    *_, before, after, out = trained
    # Untrained, it is close to uniform over the 8 symbols; 4 short epochs bring it near 2.9.
    assert before["perplexity"] > 6.0 and after["perplexity"] < 3.3, (before, after)
    assert after["lstm_perplexity"] < 3.3
    assert after["parse_f1"] > after["right_branching_f1"] + 0.05, after
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
