"""Family ``unilm``: the prefix mask's block pattern; a title token reads every article token and
no later title token; an article token reads later article tokens under ``prefix`` and not under
``causal``; with ``causal`` the network is a plain causal Transformer LM bit for bit; a beam's
score is its tokens' teacher-forced log-probability; the network exports to ONNX and scores as in
torch; a short run learns to copy from the article and beats every baseline."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch
import torch.nn.functional as F

from pipeline import PAD
from pipeline.params.validate import validate
from pipeline.plugin.registry import Registry, create_plugin_manager
from plugins.cln_lm.model import ConditionalLM
from plugins.unilm.decode import beam_search
from plugins.unilm.mask import attention_mask
from plugins.unilm.model import UniLM, no_title
from tests.family_kit import CONF, build, fit, prepared

pytestmark = pytest.mark.usefixtures("one_thread")
VOCAB, ARTICLE, TITLE = 30, 9, 6
SIZES = {"vocab": VOCAB, "positions": ARTICLE + TITLE, "d_model": 16, "heads": 4, "layers": 2}
FAST = {"name": "adam", "lr": 3e-3, "momentum": 0.9, "weight_decay": 0.0}


def network(mask: str, seed: int = 0) -> UniLM:
    torch.manual_seed(seed)
    return UniLM(**SIZES, dropout=0.0, mask=mask).eval()


def pairs(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Articles ``(3, ARTICLE)`` (the second padded after 6 tokens) and title inputs."""
    generator = torch.Generator().manual_seed(seed)
    article = torch.randint(4, VOCAB, (3, ARTICLE), generator=generator)
    article[1, 6:] = PAD
    return article, torch.randint(4, VOCAB, (3, TITLE), generator=generator)


def changed(tokens: torch.Tensor, row: int, column: int) -> torch.Tensor:
    """``tokens`` with one token replaced by another real one."""
    other = tokens.clone()
    other[row, column] = 4 + (int(tokens[row, column]) - 3) % (VOCAB - 4)
    return other


def test_the_prefix_mask_is_the_source_both_ways_and_the_target_causal():
    segments = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 1, 1]])
    valid = torch.tensor([[True] * 5, [True, True, False, True, True]])  # a padded source
    expected = torch.tensor(
        [
            [[1, 1, 1, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]],
            [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 0, 1, 0], [1, 1, 0, 1, 1]],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(attention_mask(segments, valid, "prefix"), expected)
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    assert torch.equal(attention_mask(segments, valid[:1], "causal"), causal.unsqueeze(0))
    assert torch.equal(attention_mask(segments, valid, "causal")[1], causal & valid[1])


@pytest.mark.parametrize("mask", ["prefix", "causal"])
def test_a_title_token_ignores_later_title_tokens_and_reads_every_article_token(mask):
    model, (article, title) = network(mask), pairs()
    with torch.no_grad():
        before = model(article, title)
        for i in range(TITLE - 1):
            later = model(article, changed(title, 0, i + 1))
            assert torch.equal(later[:, : i + 1], before[:, : i + 1]), i
            assert not torch.equal(later[0, i + 1], before[0, i + 1])
        for j in range(ARTICLE):
            read = model(changed(article, 0, j), title)
            assert (read[0] != before[0]).any(-1).all(), j  # every title position
            assert torch.equal(read[1:], before[1:])  # other rows untouched


def test_an_article_token_reads_later_article_tokens_under_prefix_only():
    article, title = pairs()
    segments = torch.cat([torch.zeros_like(article), torch.ones_like(title)], 1)
    tokens = torch.cat([article, title], 1)
    earlier = slice(0, ARTICLE - 1)  # article positions before the one that changes
    with torch.no_grad():
        for mask in ("prefix", "causal"):
            model = network(mask)
            before = model.logits(tokens, segments)[0, earlier]
            after = model.logits(changed(tokens, 0, ARTICLE - 1), segments)[0, earlier]
            if mask == "prefix":  # bidirectional: every earlier article position reads it
                assert (after != before).any(-1).all()
            else:
                assert torch.equal(after, before)


def plain_causal_lm(model: UniLM, tokens: torch.Tensor) -> torch.Tensor:
    """A textbook causal Transformer LM run on ``model``'s weights: no segments, no padding mask,
    attention by ``scaled_dot_product_attention(is_causal=True)``."""
    batch, n = tokens.shape
    x = model.token_embed(tokens) + model.position_embed(torch.arange(n))
    for block in model.blocks:
        attention = block.attention
        split = attention.qkv(block.norm1(x)).reshape(batch, n, 3, attention.heads, -1)
        q, k, v = split.permute(2, 0, 3, 1, 4)
        mixed = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + attention.out(mixed.transpose(1, 2).reshape(batch, n, -1))
        x = x + block.mlp(block.norm2(x))
    return model.head(model.norm(x))


def cln_lm_twin(model: UniLM) -> ConditionalLM:
    """``cln_lm``'s causal Transformer LM (one label, LayerNorm shifts at their zero start) with
    ``model``'s weights."""
    twin = ConditionalLM(
        VOCAB, 1, ARTICLE + TITLE, 16, 4, 2, attention="softmax", dropout=0.0
    ).eval()
    renamed = {
        key.replace("norm1.", "norm1.norm.").replace("norm2.", "norm2.norm.")
        if key.startswith("blocks.")
        else key.replace("norm.", "norm.norm.", 1)
        if key.startswith("norm.")
        else key: value
        for key, value in model.state_dict().items()
    }
    missing, unexpected = twin.load_state_dict(renamed, strict=False)
    assert not unexpected and all(".gamma." in k or ".beta." in k or "label" in k for k in missing)
    return twin


def test_the_causal_mask_is_a_plain_causal_language_model_bit_for_bit():
    model = network("causal")
    article, title = pairs()
    tokens = torch.cat([article[[0, 2]], title[[0, 2]]], 1)  # rows without padding
    segments = torch.cat([torch.zeros(2, ARTICLE), torch.ones(2, TITLE)], 1).long()
    with torch.no_grad():
        ours = model.logits(tokens, segments)
        assert torch.equal(ours, plain_causal_lm(model, tokens))
        # The same layout as cln_lm's LM, whose attention forms the weights explicitly.
        theirs = cln_lm_twin(model)(tokens, torch.zeros(2, dtype=torch.long))
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
    prefix = network("prefix")  # the same weights under the other mask differ
    with torch.no_grad():
        assert not torch.equal(prefix.logits(tokens, segments), ours)


def decoded(model: UniLM, article: torch.Tensor, width: int):
    """Beam search of ``width`` over ``model``'s one-token steps: ids and scores."""
    prefix = model.read(article.repeat_interleave(width, 0))

    def step(token, title):
        logits, title = model.next_token(prefix, token, title)
        return logits.log_softmax(-1), title

    return beam_search(step, no_title(prefix), width, TITLE)


@pytest.mark.parametrize("mask", ["prefix", "causal"])
@pytest.mark.parametrize("width", [1, 3])
def test_a_beams_score_is_its_teacher_forced_log_probability(mask, width):
    model, (article, _) = network(mask), pairs()
    tokens, scores = decoded(model, article, width)
    assert (tokens[:, 0] != PAD).all()
    inputs = torch.cat([torch.ones_like(tokens[:, :1]), tokens[:, :-1]], 1)  # BOS first
    with torch.no_grad():
        log_probs = model(article, inputs).log_softmax(-1)
    picked = log_probs.gather(2, tokens.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(scores, (picked * (tokens != PAD)).sum(1), rtol=0, atol=1e-4)


def test_the_recipe_trains_on_docstring_titles_unless_data_names_another():
    from pipeline.params.hydra_groups import compose_params

    params = compose_params(CONF, ["model=unilm"])
    assert (params["model"]["family"], params["data"]["name"]) == ("unilm", "docstring_titles")
    assert params["model"]["mask"] == "prefix"
    validate(params, Registry(create_plugin_manager()))
    assert compose_params(CONF, ["model=unilm", "data=pairs_tsv"])["data"]["name"] == "pairs_tsv"


@pytest.fixture(scope="module")
def copying(tmp_path_factory):
    """Titles that are "get" and the article's first word, after a short run: only reading the
    article gives the word; the best constant title gets the verb alone."""
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnoprstuvw"))
    words = ["".join(rng.choice(letters, rng.integers(3, 7))) for _ in range(300)]
    lines = []
    for _ in range(600):
        article = " ".join(rng.choice(words, rng.integers(4, 9)))
        lines.append(f"{article}\tget {article.split()[0]}\n")
    path = tmp_path_factory.mktemp("pairs") / "pairs.tsv"
    path.write_text("".join(lines))
    data = prepared("pairs_tsv", path=str(path), length=64, title_length=16)
    family, module = build("unilm", data, d_model=64, layers=2, max_title=14, dropout=0.0)
    fit(module, data, max_epochs=12, batch_size=32, optimizer=FAST)
    folder = tmp_path_factory.mktemp("evaluate")
    return family, module.eval(), data, family.evaluate(module.eval(), data, folder), folder


def test_a_short_run_copies_from_the_article_and_beats_every_baseline(copying):
    _, _, _, metrics, _ = copying
    assert metrics["rouge_l_constant"] < 0.6  # the verb, and a word guessed right by chance
    assert metrics["rouge_l"] > metrics["rouge_l_constant"] + 0.25
    assert metrics["rouge_l"] > metrics["rouge_l_nearest"] + 0.25


def test_evaluate_names_its_metrics_as_seq2seq_and_writes_a_table(copying):
    _, _, _, metrics, folder = copying
    for kind in ("rouge_1", "rouge_2", "rouge_l"):
        for source in ("", "_greedy", "_first_sentence", "_constant", "_nearest"):
            assert 0 <= metrics[kind + source] <= 1
    assert metrics["perplexity"] == pytest.approx(np.exp(metrics["test_loss"]))
    assert (folder / "rouge_l.png").stat().st_size > 0
    table = (folder / "titles.txt").read_text().splitlines()
    assert table[0].startswith("| # | article | reference | baseline (")
    assert len(table) == 2 + 10 and all(row.count(" | ") == 4 for row in table[2:])


def test_the_network_exports_to_onnx_and_scores_as_in_torch(copying, tmp_path):
    family, module, data, _, _ = copying
    network, (ids, titles) = family.export_target(module, data)
    path = tmp_path / "unilm.onnx"
    torch.onnx.export(
        network,
        (ids, titles),
        str(path),
        dynamo=True,
        input_names=["ids", "titles"],
        dynamic_shapes=({0: torch.export.Dim.DYNAMIC}, {0: torch.export.Dim.DYNAMIC}),
    )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ids, titles = ids[:7], titles[:7]  # another batch size than the example's
    (got,) = session.run(None, {"ids": ids.numpy(), "titles": titles.numpy()})
    with torch.no_grad():
        expected = network(ids, titles).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
