"""Dataset ``code_titles``: a hand-made source gives exactly the expected (code, summary line)
pairs, pairs that encode alike are kept once (so no test pair repeats a training pair), loading is
deterministic, and the seq2seq family trains on it and its evaluate scores it."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import Vocab
from plugins.text.code_titles import distinct_rows, functions_of, read_functions
from plugins.text.docstrings import Docstring
from tests.data_kit import REGISTRY
from tests.family_kit import build, fit, prepared

MODULES = ("email",)  # about 230 documented functions, one pair twice

SOURCE = '''\
"""Module docstring: not a pair."""
import os


def plain(a, b=1):
    """Add two numbers.

    The body of the docstring goes too.
    """
    # keep   this comment
    return a   +   b


def undocumented():
    return 1


class Box:
    """Class docstring: not a pair, and not in any article."""

    @property
    def size(self):
        \'\'\'Return the size in bytes.\'\'\'
        return len(self.data)  # « non-ASCII »

    async def fetch(self):
        """   Fetch   it   now.   """
        def helper():
            """Nested docstring, cut from fetch's code."""
            return 2
        return await helper()


def only_docstring():
    """Do nothing."""
'''


def test_a_hand_made_source_gives_exactly_its_documented_functions():
    pairs = {(d.summary, d.body) for d in functions_of(SOURCE, "mod")}
    assert pairs == {
        ("Add two numbers.", "def plain(a, b=1): # keep this comment return a + b"),
        ("Return the size in bytes.", "def size(self): return len(self.data) # « non-ASCII »"),
        ("Fetch it now.", "async def fetch(self): def helper(): return 2 return await helper()"),
        ("Nested docstring, cut from fetch's code.", "def helper(): return 2"),
        ("Do nothing.", "def only_docstring():"),
    }
    assert {d.module for d in functions_of(SOURCE, "mod")} == {"mod"}
    assert functions_of(SOURCE.encode(), "mod") == functions_of(SOURCE, "mod")
    assert functions_of("def broken(:\n", "mod") == []
    latin = "# -*- coding: latin-1 -*-\nx = 'é'; y = 1\ndef f(): 'Say é.'; return 'é'  # é\n"
    assert functions_of(latin.encode("latin-1"), "mod") == [
        Docstring("mod", "Say é.", "def f(): ; return 'é' # é")
    ]


def test_pairs_that_encode_alike_are_kept_once_the_first_in_order():
    items = [
        Docstring("a", "Get it.", "def get(): return 1"),
        Docstring("b", "Get it.", "def get(): return 1"),  # the same pair: dropped
        Docstring("c", "Get it.", "def get(): return 2"),  # other code, same title: kept
        Docstring("d", "Get it now.", "def get(): return 1"),  # cut to 6 title tokens: "Get it"
    ]
    assert [d.module for d in distinct_rows(items, 40, 12)] == ["a", "c", "d"]
    # "<s> Get it" fills 8 tokens of both "Get it." and "Get it now.": the same row.
    assert [d.module for d in distinct_rows(items, 40, 7)] == ["a", "c"]


def test_loading_is_deterministic_and_no_test_pair_is_a_training_pair():
    spec = REGISTRY.dataset("code_titles")
    settings = {**{k: s.default for k, s in spec.settings.items()}, "modules": list(MODULES)}
    first, again = spec.load(settings), spec.load(settings)
    assert np.array_equal(first.x, again.x) and np.array_equal(first.y, again.y)
    assert first.vocab == again.vocab and first.fingerprint == again.fingerprint
    assert first.fingerprint.startswith("python ") and 100 < len(first.x)
    assert len(first.x) <= len(read_functions(MODULES))
    data = prepared("code_titles", modules=MODULES)
    train = {(a.tobytes(), t.tobytes()) for a, t in zip(data.train.x, data.train.y, strict=True)}
    test = zip(data.test.x, data.test.y, strict=True)
    assert not any((a.tobytes(), t.tobytes()) in train for a, t in test)


@pytest.mark.usefixtures("one_thread")
def test_seq2seq_trains_on_it_and_evaluate_scores_it(tmp_path):
    data = prepared("code_titles", modules=MODULES, length=96)
    vocab = Vocab(data.info.vocab)
    assert vocab.decode(data.train.x[0]).startswith("def ")
    family, module = build("seq2seq", data, embedding=16, hidden=16, max_title=30)
    fit(module, data, max_epochs=1, batch_size=16)
    metrics = family.evaluate(module.eval(), data, tmp_path)
    for kind in ("rouge_1", "rouge_2", "rouge_l"):
        for source in ("", "_greedy", "_first_sentence", "_constant", "_nearest"):
            assert 0 <= metrics[kind + source] <= 1
    assert np.isfinite(metrics["test_loss"])
    assert (tmp_path / "titles.txt").read_text().count("| def ") >= 1
