"""Family ``seq2seq``: beam search of width 1 is greedy decoding, a beam's score is its tokens'
teacher-forced log-probabilities, the encoder and the decoder step export to ONNX and decode as in
torch, a short run learns, and the user's article<TAB>title file trains too."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

from pipeline.params.validate import validate
from pipeline.plugin.registry import Registry, create_plugin_manager
from plugins.seq2seq.network import DecoderStepPart, Encoded, EncoderPart
from plugins.seq2seq.search import beam_search, greedy, teacher_forced_score
from plugins.sequence.norm import ConditionalLayerNorm
from plugins.text.docstrings import read_corpus
from tests.family_kit import CONF, build, fit, prepared

pytestmark = pytest.mark.usefixtures("one_thread")
MODULES = ("email", "json", "csv")  # ~200 docstrings: seconds per epoch on one thread
SMALL = {"embedding": 16, "hidden": 32, "max_title": 40}
STEP_NAMES = ("token", "state", "memory", "summary", "mask")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Body<TAB>summary lines of a few standard-library modules, read as the user's pairs file."""
    path = tmp_path_factory.mktemp("pairs") / "pairs.tsv"
    items = [d for d in read_corpus(MODULES) if d.summary and d.body]
    path.write_text("".join(f"{d.body}\t{d.summary}\n" for d in items))
    return prepared("pairs_tsv", path=str(path), length=120)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """A small model after a short run, with its family and the run's history file."""
    history = tmp_path_factory.mktemp("history") / "history.csv"
    family, module = build("seq2seq", data, **SMALL)
    with torch.no_grad():
        start = family_nll(module, data)
    fit(module, data, history=history, max_epochs=8, batch_size=32, optimizer=FAST)
    return family, module.eval(), start


FAST = {"name": "adam", "lr": 3e-3, "momentum": 0.9, "weight_decay": 0.0}


def family_nll(module, data) -> float:
    from plugins.seq2seq.family import test_nll

    return test_nll(module.eval(), data)


def test_conditional_layer_norm_starts_as_plain_layer_norm():
    norm = ConditionalLayerNorm(8, 5)
    x, condition = torch.randn(3, 4, 8), torch.randn(3, 1, 5)
    torch.testing.assert_close(norm(x, condition), norm.norm(x), rtol=0, atol=0)


def unigram_nll(data) -> float:
    """Nats per test title character of the training titles' character frequencies."""
    train, test = data.train.y[:, 1:], data.test.y[:, 1:]
    counts = np.bincount(train[train > 0], minlength=len(data.info.vocab)) + 1e-9
    return float(-np.log(counts / counts.sum())[test[test > 0]].mean())


def test_a_short_run_learns(trained, data):
    family, module, start = trained
    # From about uniform over the characters (ln V nats) to below what character frequencies
    # alone give.
    assert start > np.log(len(data.info.vocab)) - 0.2
    assert family_nll(module, data) < unigram_nll(data) - 0.1


def test_beam_of_width_one_is_greedy_decoding(trained, data):
    _, module, _ = trained
    ids = torch.from_numpy(data.test.x)
    with torch.no_grad():
        encoded = module.model.encode(ids)
    step = DecoderStepPart(module.model)
    tokens, scores = greedy(step, encoded, 40)
    beamed, beam_scores = beam_search(step, encoded, 1, 40)
    assert torch.equal(tokens, beamed)
    torch.testing.assert_close(scores, beam_scores, rtol=0, atol=1e-5)
    assert (tokens[:, 0] != 0).all()  # real titles, not empty rows


@pytest.mark.parametrize("width", [2, 4])
def test_a_beams_score_is_its_teacher_forced_log_probability(trained, data, width):
    _, module, _ = trained
    ids = torch.from_numpy(data.test.x)
    with torch.no_grad():
        encoded = module.model.encode(ids)
    tokens, scores = beam_search(DecoderStepPart(module.model), encoded, width, 40)
    recomputed = teacher_forced_score(module.model, ids, tokens)
    torch.testing.assert_close(scores, recomputed, rtol=0, atol=1e-4)
    greedy_scores = greedy(DecoderStepPart(module.model), encoded, 40)[1]
    assert (scores >= greedy_scores - 1e-4).float().mean() > 0.9  # wider search, likelier titles


def export(network, inputs, path, names):
    torch.onnx.export(
        network,
        inputs,
        str(path),
        dynamo=True,
        input_names=list(names),
        dynamic_shapes=tuple({0: torch.export.Dim.DYNAMIC} for _ in inputs),
    )
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_encoder_and_decoder_step_export_and_decode_as_in_torch(trained, data, tmp_path):
    family, module, _ = trained
    parts = family.export_target(module, data)
    assert set(parts) == {"encoder", "decoder_step"}
    encoder, (ids,) = parts["encoder"]
    step, step_inputs = parts["decoder_step"]
    encoder_session = export(encoder, (ids,), tmp_path / "encoder.onnx", ["ids"])
    step_session = export(step, step_inputs, tmp_path / "step.onnx", STEP_NAMES)

    # Another batch size than the example's: the batch dimension is dynamic.
    ids = torch.from_numpy(data.test.x[:7])
    reference = encoder(ids)
    outputs = encoder_session.run(None, {"ids": ids.numpy()})
    for expected, got in zip(reference, outputs, strict=True):
        np.testing.assert_allclose(got, expected.detach().numpy(), rtol=0, atol=1e-4)
    inputs = (torch.from_numpy(data.test.y[:7, 1]), reference[3], *reference[:3])
    feed = {name: t.detach().numpy() for name, t in zip(STEP_NAMES, inputs, strict=True)}
    for expected, got in zip(step(*inputs), step_session.run(None, feed), strict=True):
        np.testing.assert_allclose(got, expected.detach().numpy(), rtol=0, atol=1e-4)

    def onnx_step(*tensors):
        feed = {name: t.numpy() for name, t in zip(STEP_NAMES, tensors, strict=True)}
        return tuple(torch.from_numpy(a) for a in step_session.run(None, feed))

    ids = torch.from_numpy(data.test.x)
    onnx_encoded = Encoded(
        *(torch.from_numpy(a) for a in encoder_session.run(None, {"ids": ids.numpy()}))
    )
    with torch.no_grad():
        expected = greedy(
            DecoderStepPart(module.model), Encoded(*EncoderPart(module.model)(ids)), 40
        )[0]
    assert torch.equal(greedy(onnx_step, onnx_encoded, 40)[0], expected)


def test_evaluate_scores_titles_and_writes_them_beside_the_references(trained, data, tmp_path):
    family, module, _ = trained
    metrics = family.evaluate(module, data, tmp_path)
    assert {"rouge_l", "rouge_l_greedy", "baseline_rouge_l", "test_loss", "perplexity"} <= set(
        metrics
    )
    assert 0 <= metrics["rouge_l"] <= 1 and 0 < metrics["baseline_rouge_l"] <= 1
    assert metrics["perplexity"] == pytest.approx(np.exp(metrics["test_loss"]))
    assert (tmp_path / "rouge_l.png").stat().st_size > 0
    text = (tmp_path / "titles.txt").read_text()
    assert text.count("reference: ") == text.count("generated: ") == min(40, len(data.test.x))


def test_the_recipe_trains_on_docstring_titles_unless_data_names_another():
    from pipeline.params.hydra_groups import compose_params

    registry = Registry(create_plugin_manager())
    params = compose_params(CONF, ["model=seq2seq"])
    assert (params["model"]["family"], params["data"]["name"]) == ("seq2seq", "docstring_titles")
    validate(params, registry)
    assert compose_params(CONF, ["model=seq2seq", "data=pairs_tsv"])["data"]["name"] == "pairs_tsv"
