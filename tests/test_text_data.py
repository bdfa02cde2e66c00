"""The text datasets and the character vocabulary: what prepare writes for the sequence families."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline import PipelineError
from pipeline.data.prepared import PreparedData, split_examples
from pipeline.data.vocab import BOS, EOS, PAD, UNK, Vocab
from plugins.text import docstrings, generated, tsv
from tests.family_kit import prepared
from tests.stream_kit import prepare_in


def test_vocab_round_trip_pads_cuts_and_marks_unknown_characters():
    vocab = Vocab.build(["abba", "cab"], min_count=2)
    assert vocab.symbols[4:] == ("a", "b")  # c occurs once: below min_count
    rows = vocab.encode(["ab", "abc", "abababab"], 6)
    assert rows.tolist() == [
        [BOS, 4, 5, EOS, PAD, PAD],
        [BOS, 4, 5, UNK, EOS, PAD],
        [BOS, 4, 5, 4, 5, 4],  # cut: no EOS
    ]
    assert [vocab.decode(r) for r in rows] == ["ab", "ab\ufffd", "ababa"]


def test_dyck_strings_are_balanced_and_their_spans_are_the_matched_pairs():
    texts = generated.dyck_strings(200, "()[]", max_depth=4, max_length=30, seed=1)
    assert texts == generated.dyck_strings(200, "()[]", max_depth=4, max_length=30, seed=1)
    for text in texts:
        assert 2 <= len(text) <= 30
        assert len(generated.bracket_spans(text)) * 2 == len(text)  # every bracket is matched
    assert generated.bracket_spans("([])()") == [(0, 4), (1, 3), (4, 6)]


def test_conditional_strings_follow_their_class_chain():
    texts, labels = generated.conditional_strings(400, 2, 4, 12, seed=3)
    start, transitions = generated.markov_chains(2, 4, seed=3)
    letters = "abcd"
    for text, label in zip(texts[:50], labels[:50], strict=True):
        ids = [letters.index(c) for c in text]
        assert start[label, ids[0]] > 0
        assert all(transitions[label, a, b] > 0 for a, b in zip(ids, ids[1:], strict=False))
    assert labels[:4] == [0, 1, 0, 1]


def test_prepared_text_keeps_token_ids_and_the_vocabulary(tmp_path):
    data = prepared("cond_strings", examples=200)
    assert data.train.x.dtype == np.int64 and data.info.num_classes == 4
    assert data.info.labels == ("style 0", "style 1", "style 2", "style 3")
    data.save(tmp_path)
    again = PreparedData.load(tmp_path)
    assert again.info == data.info
    assert np.array_equal(again.test.x, data.test.x)


def test_docstring_corpus_is_the_same_every_time_and_has_labels_per_module():
    data = prepared("docstrings")
    assert data.info.labels == ("asyncio", "email", "logging", "tkinter")
    assert data.info.fingerprint.startswith("python ")
    assert set(np.unique(data.train.y)) == {0, 1, 2, 3}
    first = docstrings.read_corpus(("logging",))
    docstrings.read_corpus.cache_clear()
    assert docstrings.read_corpus(("logging",)) == first
    assert docstrings.fingerprint(first) == docstrings.fingerprint(list(first))


def test_docstring_words_are_whole_docstrings_as_word_ids_labelled_by_module():
    data = prepared("docstring_words", modules=("json",), length=12, min_count=1)
    vocab = Vocab(data.info.vocab)
    (first,) = [d for d in docstrings.read_corpus(("json",)) if d.summary.startswith("Serialize")][
        :1
    ]
    words = docstrings.words_of(f"{first.summary} {first.body}")
    assert words[:3] == ["serialize", "obj", "as"]
    rows = np.concatenate([data.train.x, data.val.x, data.test.x])
    texts = {vocab.decode(row, separator=" ") for row in rows}
    # Rows hold BOS + 10 words + EOS at most; a longer docstring is cut and loses its EOS.
    assert " ".join(words[:11]) in texts
    assert data.info.labels == ("json",) and set(np.unique(data.train.y)) == {0}
    assert all(word == word.lower() for word in data.info.vocab[4:])


def test_unknown_standard_library_module_is_refused():
    with pytest.raises(PipelineError, match=r"data.modules names \['no_such_module'\]"):
        docstrings.read_corpus(("no_such_module",))


def test_titles_are_target_sequences_never_stratified():
    items = [docstrings.Docstring("m", f"title {i}", f"body {i} " * 3) for i in range(30)]
    vocab = Vocab.build([d.body + d.summary for d in items])
    x, y = vocab.encode([d.body for d in items], 24), vocab.encode([d.summary for d in items], 10)
    data = split_examples((x, y), 0.2, 0.2, 0, "t")
    assert data.train.y.shape[1] == 10 and data.info.num_classes == 0


def by_rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` in the order of ``x``'s rows (a prepared split holds them in the order of
    their hashes)."""
    order = np.lexsort(x.T[::-1])
    return x[order], y[order]


def all_rows(data: PreparedData) -> tuple[np.ndarray, np.ndarray]:
    """The rows of every split, ordered by :func:`by_rows`."""
    splits = (data.train, data.val, data.test)
    return by_rows(np.concatenate([s.x for s in splits]), np.concatenate([s.y for s in splits]))


def test_user_tsv_lines_stream_encoded_and_prepare_shards_them(tmp_path):
    texts = ["cat", "act", "tac", "at", "ta", "ca", "ac", "cta", "atcq"]  # q is rare: <unk>
    lines = [f"{text}\t{'ab'[i % 2]}" for i, text in enumerate(texts)]
    good = tmp_path / "good.tsv"
    good.write_text("\n".join(lines[:4] + [""] + lines[4:]) + "\n", encoding="utf-8")
    stream = tsv.stream_text_tsv({"path": str(good), "length": 5, "min_count": 2})
    vocab = Vocab.build(texts, min_count=2)
    assert stream.vocab == vocab.symbols == ("<pad>", "<s>", "</s>", "<unk>", "a", "c", "t")
    assert stream.labels == ("a", "b")
    examples = list(stream.examples)
    assert [number for number, _, _ in examples] == ["1", "2", "3", "4", *map(str, range(6, 11))]
    assert np.array_equal(np.stack([x for _, x, _ in examples]), vocab.encode(texts, 5))
    assert examples[-1][1].tolist() == [BOS, 4, 6, 5, UNK]  # "atcq" cut at 5 tokens
    labels = [0, 1, 0, 1, 0, 1, 0, 1, 0]
    assert [y for _, _, y in examples] == labels

    root = tmp_path / "project"
    data = prepare_in(root, "text_tsv", path=str(good), length=5, min_count=2)
    assert json.loads((root / "data" / "prepared" / "info.json").read_text())["storage"] == "shards"
    assert data.info.vocab == vocab.symbols and data.info.labels == ("a", "b")
    x, y = all_rows(data)
    expected_x, expected_y = by_rows(vocab.encode(texts, 5), np.array(labels))
    assert np.array_equal(x, expected_x) and np.array_equal(y, expected_y)


def test_user_tsv_pairs_stream_articles_and_titles_in_one_vocabulary(tmp_path):
    good = tmp_path / "good.tsv"
    good.write_text("".join(f"text {i}\t{'ab'[i % 2]}\n" for i in range(9)), encoding="utf-8")
    settings = {"path": str(good), "length": 12, "title_length": 4, "min_count": 1}
    stream = tsv.stream_pairs_tsv(settings)
    articles, titles = [f"text {i}" for i in range(9)], ["ab"[i % 2] for i in range(9)]
    vocab = Vocab.build(articles + titles, min_count=1)
    assert stream.vocab == vocab.symbols
    examples = list(stream.examples)
    assert np.array_equal(np.stack([x for _, x, _ in examples]), vocab.encode(articles, 12))
    assert np.array_equal(np.stack([y for _, _, y in examples]), vocab.encode(titles, 4))
    assert vocab.decode(examples[1][2]) == "b"

    root = tmp_path / "project"
    data = prepare_in(root, "pairs_tsv", **settings)
    assert json.loads((root / "data" / "prepared" / "info.json").read_text())["storage"] == "shards"
    x, y = all_rows(data)
    expected_x, expected_y = by_rows(vocab.encode(articles, 12), vocab.encode(titles, 4))
    assert np.array_equal(x, expected_x) and np.array_equal(y, expected_y)


def test_malformed_or_too_few_tsv_lines_are_named(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("one\ta\ntwo without a tab\n", encoding="utf-8")
    settings = {"path": str(bad), "length": 12, "title_length": 4, "min_count": 1}
    with pytest.raises(PipelineError, match=r"line 2 of .*bad.tsv has 1 tab-separated field"):
        tsv.stream_text_tsv(settings)
    bad.write_text("one\ta\n\ntwo\tb\n", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"holds 2 article<TAB>title line\(s\); at least 3"):
        tsv.stream_pairs_tsv(settings)
    bad.write_bytes(b"caf\xe9\ta\n")
    with pytest.raises(PipelineError, match="is not UTF-8 text"):
        tsv.stream_text_tsv(settings)
    with pytest.raises(PipelineError, match="is not a file"):
        tsv.tsv_sources({"path": str(tmp_path / "missing.tsv")})


def test_a_family_paired_with_data_of_another_kind_is_refused():
    from pipeline.params.validate import validate
    from tests.family_kit import REGISTRY

    with pytest.raises(PipelineError) as refused:
        validate({"data": {"name": "dyck"}, "model": {"family": "classifier"}}, REGISTRY)
    assert str(refused.value) == (
        "model.family = classifier trains on features data but data.name = dyck gives tokens; "
        "use one of: digits, digits_one_vs_rest, gaussian_blobs, gaussian_mixture, idx, "
        "image_folder."
    )


def test_evaluate_moves_text_samples_out_of_the_plots_and_lists_them(tmp_path):
    from pipeline.stages.outputs import move_text_samples

    plots, samples = tmp_path / "plots" / "evaluate", tmp_path / "samples"
    plots.mkdir(parents=True)
    (plots / "picture.png").write_bytes(b"png")
    (plots / "titles.txt").write_text("a title\n")
    samples.mkdir()
    (samples / "stale.txt").write_text("from an earlier run\n")
    assert move_text_samples(plots, samples) == [samples / "titles.txt"]
    assert sorted(p.name for p in plots.iterdir()) == ["picture.png"]
    assert sorted(p.name for p in samples.iterdir()) == ["README.md", "titles.txt"]
    assert (
        samples / "README.md"
    ).read_text() == "Text samples of the last evaluate run:\n\n- titles.txt\n"
    assert move_text_samples(plots, samples) == []
    assert [p.name for p in samples.iterdir()] == ["README.md"]
    assert "wrote no text samples" in (samples / "README.md").read_text()
