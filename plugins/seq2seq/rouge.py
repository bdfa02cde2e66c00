"""ROUGE-1, ROUGE-2 and ROUGE-L F of titles against their references (``rouge-score``'s word
tokens, no stemming), and the fast ROUGE-L of many candidate titles against many references that
choosing the best constant title needs."""

from __future__ import annotations

import numpy as np

KINDS = {"rouge_1": "rouge1", "rouge_2": "rouge2", "rouge_l": "rougeL"}  # metric → rouge-score


def rouge_scores(predictions: list[str], references: list[str]) -> dict[str, np.ndarray]:
    """Each metric of :data:`KINDS` as the F-measure of every prediction against its reference."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(KINDS.values()))
    scored = [scorer.score(r, p) for p, r in zip(predictions, references, strict=True)]
    return {name: np.array([s[kind].fmeasure for s in scored]) for name, kind in KINDS.items()}


def word_ids(texts: list[str], index: dict[str, int]) -> list[list[int]]:
    """Each text's ``rouge-score`` tokens as ids of ``index`` (new words are added to it)."""
    from rouge_score import tokenize

    return [[index.setdefault(w, len(index)) for w in tokenize.tokenize(t, None)] for t in texts]


def padded(rows: list[list[int]], fill: int) -> np.ndarray:
    """The rows as one int array, each padded with ``fill`` to the longest."""
    out = np.full((len(rows), max((len(r) for r in rows), default=0)), fill, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def mean_rouge_l(candidates: list[str], references: list[str], chunk: int = 32) -> np.ndarray:
    """The mean ROUGE-L F of each candidate, used as the title of every reference: the longest
    common subsequence of word tokens by dynamic programming, vectorised over all pairs."""
    index: dict[str, int] = {}
    cand, refs = word_ids(candidates, index), word_ids(references, index)
    cand_len = np.array([len(r) for r in cand])
    ref_len = np.array([len(r) for r in refs])
    cand, refs = padded(cand, -1), padded(refs, -2)  # padding never matches
    means = np.zeros(len(candidates))
    for start in range(0, len(candidates), chunk):
        block = cand[start : start + chunk]
        previous = np.zeros((len(block), len(refs), refs.shape[1] + 1), dtype=np.int16)
        for i in range(block.shape[1]):
            equal = block[:, i, None, None] == refs[None]
            current = np.zeros_like(previous)
            for j in range(refs.shape[1]):
                current[..., j + 1] = np.where(
                    equal[..., j],
                    previous[..., j] + 1,
                    np.maximum(previous[..., j + 1], current[..., j]),
                )
            previous = current
        common = previous[..., -1]
        total = cand_len[start : start + chunk, None] + ref_len[None]
        f = np.where(common > 0, 2 * common / np.maximum(total, 1), 0.0)
        means[start : start + chunk] = f.mean(1)
    return means
