"""Family ``seq2seq``: the copy prior puts mass only on the article's tokens and mixes into a
distribution, the baselines pick what they promise, beam search of width 1 is greedy decoding, a
beam's score is its tokens' teacher-forced log-probabilities, the encoder and the decoder step
export to ONNX and decode as in torch, a short run learns to copy from the article, and the user's
article<TAB>title file trains too."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

from pipeline.params.validate import validate
from pipeline.plugin.registry import Registry, create_plugin_manager
from plugins.seq2seq.baselines import best_constant_title, first_sentence, nearest_titles
from plugins.seq2seq.network import (
    DecoderStepPart,
    Encoded,
    EncoderPart,
    copy_distribution,
    mixed,
)
from plugins.seq2seq.rouge import mean_rouge_l, rouge_scores
from plugins.seq2seq.search import beam_search, greedy, step_context, teacher_forced_score
from plugins.sequence.norm import ConditionalLayerNorm
from plugins.text.docstrings import read_corpus
from tests.family_kit import CONF, build, fit, prepared

pytestmark = pytest.mark.usefixtures("one_thread")
MODULES = ("email", "json", "csv")  # ~200 docstrings: seconds per epoch on one thread
SMALL = {"embedding": 16, "hidden": 32, "max_title": 40}
STEP_NAMES = ("token", "state", "memory", "summary", "mask", "following")


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
COPY_FAST = {**FAST, "lr": 1e-2}


def family_nll(module, data) -> float:
    from plugins.seq2seq.scoring import test_nll

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
    # Untrained, the copy prior alone already beats uniform over the characters (ln V nats):
    # half the mass goes to the article's own characters. Training goes below what character
    # frequencies alone give.
    assert start < np.log(len(data.info.vocab)) - 0.3
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
    # Wider search, mostly likelier titles (not always: a beam may drop greedy's path early).
    assert (scores >= greedy_scores - 1e-4).float().mean() > 0.8


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
    token = torch.from_numpy(data.test.y[:7, 1])
    inputs = (token, reference[3], *step_context(Encoded(*reference)))
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


def test_evaluate_scores_titles_and_baselines_and_writes_a_table(trained, data, tmp_path):
    family, module, _ = trained
    metrics = family.evaluate(module, data, tmp_path)
    for kind in ("rouge_1", "rouge_2", "rouge_l"):
        for source in ("", "_greedy", "_first_sentence", "_constant", "_nearest"):
            assert 0 <= metrics[kind + source] <= 1
    assert metrics["rouge_l_nearest"] > metrics["rouge_l_first_sentence"] > 0
    assert metrics["perplexity"] == pytest.approx(np.exp(metrics["test_loss"]))
    assert (tmp_path / "rouge_l.png").stat().st_size > 0
    table = (tmp_path / "titles.txt").read_text().splitlines()
    assert table[0] == "| # | article | reference | baseline (nearest) | generated |"
    assert len(table) == 2 + 10 and all(row.count(" | ") == 4 for row in table[2:])


def test_the_recipe_trains_on_docstring_titles_unless_data_names_another():
    from pipeline.params.hydra_groups import compose_params

    registry = Registry(create_plugin_manager())
    params = compose_params(CONF, ["model=seq2seq"])
    assert (params["model"]["family"], params["data"]["name"]) == ("seq2seq", "docstring_titles")
    validate(params, registry)
    assert compose_params(CONF, ["model=seq2seq", "data=pairs_tsv"])["data"]["name"] == "pairs_tsv"


def test_the_copy_prior_puts_mass_only_on_the_tokens_that_follow_a_position():
    torch.manual_seed(0)
    following = torch.tensor([[5, 7, 5, 2, 0], [9, 2, 0, 0, 0]])  # PAD (0) follows no position
    copied = copy_distribution(torch.randn(2, 3, 5), following, vocab=12)
    torch.testing.assert_close(copied.sum(-1), torch.ones(2, 3), rtol=0, atol=1e-6)
    outside = torch.ones(2, 12, dtype=torch.bool)
    outside[0, [5, 7, 2]] = outside[1, [9, 2]] = False
    assert (copied.masked_select(outside.unsqueeze(1).expand_as(copied)) == 0).all()
    # Equal scores: each token gets the share of the positions it follows.
    even = copy_distribution(torch.zeros(1, 1, 5), following[:1], vocab=12)[0, 0]
    torch.testing.assert_close(even[[5, 7, 2]], torch.tensor([0.5, 0.25, 0.25]))


def test_the_mixture_is_a_distribution_and_its_weight_picks_a_side():
    torch.manual_seed(0)
    generated = torch.softmax(torch.randn(2, 3, 12), -1)
    copied = copy_distribution(torch.randn(2, 3, 4), torch.tensor([[3, 4, 3, 0]] * 2), 12)
    weight = torch.rand(2, 3, 1)
    total = mixed(generated, copied, weight).sum(-1)
    torch.testing.assert_close(total, torch.ones(2, 3), rtol=0, atol=1e-6)
    assert torch.equal(mixed(generated, copied, torch.ones(2, 3, 1)), copied)
    assert torch.equal(mixed(generated, copied, torch.zeros(2, 3, 1)), generated)


def test_mean_rouge_l_matches_rouge_score():
    candidates = ["Return the name.", "Close the file", "x", ""]
    references = ["Return the file name.", "close it", "Return x and y.", "The file."]
    expected = [rouge_scores([c] * 4, references)["rouge_l"].mean() for c in candidates]
    np.testing.assert_allclose(mean_rouge_l(candidates, references), expected, rtol=0, atol=1e-12)


def test_the_constant_baseline_is_the_training_title_best_on_the_training_titles():
    titles = ["Return the name.", "Return the file name.", "Return the file.", "Close it."]
    # Means of F over the four: (1 + 6/7 + 4/6 + 0) / 4 for the first and the third, and
    # (6/7 + 1 + 6/7 + 0) / 4 for the second.
    assert best_constant_title(titles) == "Return the file name."
    assert best_constant_title(["a b", "c d", "a d"]) == "a d"  # shares a word with every one


def test_the_nearest_baseline_gives_an_identical_articles_training_title():
    train = ["Open the file and read it.", "Send the bytes to the socket.", "Parse a date."]
    titles = ["Read a file.", "Send bytes.", "Parse."]
    assert nearest_titles([train[1], "parse this date"], train, titles) == ["Send bytes.", "Parse."]
    assert first_sentence("One. Two. Three") == "One" and first_sentence("No stop") == "No stop"


def test_a_short_run_copies_from_the_article_and_beats_every_baseline(tmp_path):
    """Titles that are the article's first word behind a fixed verb: only reading the article
    gives the word; the best constant title gets the verb alone."""
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnoprstuvw"))
    words = ["".join(rng.choice(letters, rng.integers(3, 7))) for _ in range(300)]
    lines = []
    for _ in range(600):
        article = " ".join(rng.choice(words, rng.integers(4, 9)))
        lines.append(f"{article}\tget {article.split()[0]}\n")
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(lines))
    data = prepared("pairs_tsv", path=str(path), length=64, title_length=16)
    family, module = build("seq2seq", data, embedding=16, hidden=32, max_title=14, dropout=0.0)
    fit(module, data, max_epochs=12, batch_size=32, optimizer=COPY_FAST)
    metrics = family.evaluate(module.eval(), data, tmp_path)
    assert metrics["rouge_l_constant"] < 0.6  # the verb, and a word guessed right by chance
    assert metrics["rouge_l"] > metrics["rouge_l_constant"] + 0.25
    assert metrics["rouge_l"] > metrics["rouge_l_nearest"] + 0.25
