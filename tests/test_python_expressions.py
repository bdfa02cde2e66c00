"""Dataset ``python_expressions``: expressions of the standard library's sources with their syntax
spans as gold trees, which the ON-LSTM's evaluation scores its induced trees against."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from pipeline import PipelineError, Vocab
from plugins.on_lstm.gold_trees import GoldTree, bracket_tree, expression_tree, gold_trees_of
from plugins.on_lstm.parse import top_down_tree
from plugins.on_lstm.parse_scores import ParsedText, parse_metrics, parse_texts
from plugins.on_lstm.trivial_trees import balanced, left_branching, right_branching
from plugins.text.expressions import (
    expression_spans,
    has_structure,
    read_expressions,
    token_starts,
)
from plugins.text.generated import bracket_spans
from tests.data_kit import prepared

SMALL = {"modules": ("json",), "examples": 0}  # about 300 expressions, read in a second


def test_gold_spans_of_hand_made_expressions():
    # s e l f . f ( a . b ,   x = 1 )
    # 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
    assert expression_spans("self.f(a.b, x=1)") == [
        (0, 4),  # self
        (0, 6),  # self.f
        (0, 16),  # the call
        (7, 8),  # a
        (7, 10),  # a.b
        (12, 15),  # the keyword x=1
        (14, 15),  # 1
    ]
    # Parentheses belong to no node: (a + b) is the span of a + b inside them.
    assert expression_spans("(a + b) * c") == [(0, 11), (1, 2), (1, 6), (5, 6), (10, 11)]
    assert expression_spans("lambda x: x[0]") == [(0, 14), (7, 8), (10, 11), (10, 14), (12, 13)]
    assert expression_spans("x = 1") == expression_spans("a +") == []  # not one expression
    assert not has_structure("name") and not has_structure("'a string'")
    assert has_structure("f(a.b)") and not has_structure("abc.d")  # abc.d: tokens abc . d


def test_gold_trees_are_scored_over_python_tokens():
    # Tokens: self . f ( a . b , x = 1 ) starting at these characters (the space is no token).
    assert token_starts("self.f(a.b, x=1)") == [0, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15]
    assert expression_tree("self.f(a.b, x=1)") == GoldTree(
        [0, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15],
        [(0, 1), (0, 3), (0, 12), (4, 5), (4, 7), (8, 11), (10, 11)],
    )
    assert expression_tree("(a + b) * c").spans == [(0, 7), (1, 2), (1, 4), (3, 4), (6, 7)]
    assert bracket_tree("(())()") == GoldTree(list(range(6)), bracket_spans("(())()"))


def test_a_token_is_parsed_with_the_distance_of_its_first_character():
    # ab.c(d): tokens ab . c ( d ) start at 0 2 3 4 5 6; the 9 at "b" is inside a token.
    row = np.array([0.0, 5, 9, 1, 2, 3, 0, 0])  # position 0 is the BOS step
    (parsed,) = parse_texts(["ab.c(d)"], row[None], expression_tree)
    assert parsed.induced == top_down_tree([5, 1, 2, 3, 0, 0])
    assert parsed.gold == [(0, 1), (0, 3), (0, 6), (4, 5)] and parsed.size == 6
    assert parsed.tokens == ["ab", ".", "c", "(", "d", ")"]
    (dyck,) = parse_texts(["(())"], np.arange(5.0)[None], bracket_tree)
    assert dyck.starts == () and dyck.induced == top_down_tree([1.0, 2, 3, 4])


def test_the_corpus_is_the_same_every_time_and_every_string_is_an_expression():
    first = read_expressions(("json",), 8, 40)
    read_expressions.cache_clear()
    assert read_expressions(("json",), 8, 40) == first
    assert len(first) == len(set(first)) > 100
    for text in first:
        assert 8 <= len(text) <= 40 and text.isascii() and has_structure(text)
        ast.parse(text, mode="eval")


def test_prepared_rows_decode_to_their_expressions_and_gold_trees():
    data = prepared("python_expressions", **SMALL)
    again = prepared("python_expressions", **SMALL)
    assert (data.test.x == again.test.x).all()
    vocab = Vocab(data.info.vocab)
    texts = [vocab.decode(row) for row in data.test.x]
    corpus = set(read_expressions(("json",), 8, 40))
    assert texts and all(text in corpus for text in texts)  # no character lost to <unk>
    assert gold_trees_of("python_expressions") is expression_tree
    assert gold_trees_of("dyck") is gold_trees_of("docstrings") is bracket_tree


def test_a_sample_keeps_the_seeded_expressions_in_corpus_order():
    every = read_expressions(("json",), 8, 40)
    data = prepared("python_expressions", modules=("json",), examples=50, seed=3)
    assert sum(len(s.x) for s in (data.train, data.val, data.test)) == 50
    vocab = Vocab(data.info.vocab)
    assert {vocab.decode(row) for row in data.train.x} <= set(every)


def test_left_branching_trees_and_their_metrics():
    assert left_branching(4) == [(0, 2), (0, 3), (0, 4)]
    text = "a.b.c(d)"  # every character a token: (0,1) a, (0,3) a.b, (0,5) a.b.c, (6,7) d
    gold = expression_spans(text)
    assert gold == [(0, 1), (0, 3), (0, 5), (0, 8), (6, 7)]
    parsed = [ParsedText(text, gold, left_branching(8), balanced(8), right_branching(8))]
    metrics = parse_metrics(parsed)
    # Left-branching {(0,2)…(0,7)} holds (0,3) and (0,5): P 2/6, R 2/2.
    assert metrics["parse_f1_left_branching"] == pytest.approx(2 * (1 / 3) / (1 / 3 + 1))
    assert metrics["parse_f1"] == metrics["parse_f1_left_branching"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"modules": ("no_such_module",)},
            r"^data.modules names \['no_such_module'\], not top-level modules",
        ),
        ({"min_length": 30, "max_length": 20}, r"^data.min_length = 30 is above data.max_length"),
        ({"max_length": 2}, r"^data.max_length"),
    ],
)
def test_bad_settings_are_refused_in_one_line(settings, message):
    with pytest.raises(PipelineError, match=message) as refused:
        prepared("python_expressions", **settings)
    assert "\n" not in str(refused.value)
