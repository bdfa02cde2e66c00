"""Exporting several networks of several inputs (a sequence model's encoder and decoder step), and
families that export ONNX only: every part is written and checked, and the formats are explicit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from torch import nn

from pipeline import Family, PipelineError
from pipeline.export.exporter import export_parts, parts_of


class Encoder(nn.Module):
    """Token ids → (states, summary): two outputs."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(12, 6)
        self.lstm = nn.LSTM(6, 5, batch_first=True)

    def forward(self, ids):
        states, (hidden, _) = self.lstm(self.embed(ids))
        return states, hidden[-1]


class Step(nn.Module):
    """(previous token, state, encoder states) → (log-probs, new state): three inputs, two
    outputs."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(12, 5)
        self.cell = nn.GRUCell(5, 5)
        self.out = nn.Linear(10, 12)

    def forward(self, token, state, states):
        state = self.cell(self.embed(token), state)
        attended = torch.softmax((states @ state[:, :, None]).squeeze(2), 1)
        context = (attended[:, :, None] * states).sum(1)
        return torch.log_softmax(self.out(torch.cat([state, context], 1)), 1), state


class OnnxOnly(Family):
    export_formats = ("ONNX",)


def test_named_parts_of_several_inputs_are_written_and_each_checked(tmp_path: Path):
    torch.manual_seed(0)
    ids = torch.randint(0, 12, (7, 9))
    encoder, step = Encoder().eval(), Step().eval()
    with torch.no_grad():
        states, summary = encoder(ids)
    target = {
        "encoder": (encoder, ids),
        "decoder_step": (step, (torch.randint(0, 12, (7,)), summary, states)),
    }
    diffs = export_parts(OnnxOnly(), parts_of(target, 5), tmp_path / "exported", 1e-5)
    assert sorted(diffs) == ["decoder_step.onnx_max_abs_diff", "encoder.onnx_max_abs_diff"]
    assert max(diffs.values()) <= 1e-5
    assert sorted(p.name for p in (tmp_path / "exported").iterdir()) == [
        "decoder_step.onnx",
        "encoder.onnx",
    ]
    # The files serve batches of any size, under the documented input and output names.
    session = onnxruntime.InferenceSession(
        str(tmp_path / "exported" / "decoder_step.onnx"), providers=["CPUExecutionProvider"]
    )
    assert [i.name for i in session.get_inputs()] == ["input", "input_1", "input_2"]
    assert [o.name for o in session.get_outputs()] == ["output", "output_1"]
    token = torch.tensor([3, 4])
    log_probs, state = session.run(
        None,
        {"input": token.numpy(), "input_1": summary[:2].numpy(), "input_2": states[:2].numpy()},
    )
    with torch.no_grad():
        expected = step(token, summary[:2], states[:2])
    np.testing.assert_allclose(log_probs, expected[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(state, expected[1].numpy(), atol=1e-5)


def test_a_network_of_several_inputs_needs_onnx_only(tmp_path: Path):
    torch.manual_seed(0)
    ids = torch.randint(0, 12, (4, 6))
    with pytest.raises(PipelineError, match=r"set the family's export_formats to \('ONNX',\)"):
        export_parts(Family(), parts_of((Encoder(), ids), 4), tmp_path / "exported", 1e-5)
    assert not (tmp_path / "exported").exists()


def test_invalid_export_formats_are_refused(tmp_path: Path):
    class TFLiteOnly(Family):
        export_formats = ("ONNX", "TFLite")

    with pytest.raises(PipelineError, match=r"TFLiteOnly.export_formats = \('ONNX', 'TFLite'\)"):
        export_parts(TFLiteOnly(), parts_of((nn.Linear(2, 2), torch.ones(1, 2)), 1), tmp_path, 1)
