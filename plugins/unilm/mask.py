"""The attention masks of "从语言模型到Seq2Seq:Transformer如戏,全靠Mask" (from language model to
seq2seq: the Transformer plays any part, all by its mask), UniLM's idea.

One Transformer reads the concatenation ``[source, target]``; which position may attend to which
is all that makes it an encoder, a decoder or both. With segment ids ``s`` (0 on the source, 1 on
the target) and their running sum ``c = cumsum(s)`` (0 on the whole source, then 1, 2, … along the
target), the prefix mask is ``c_j ≤ c_i``: every source position sees the whole source
(bidirectional) and no target position, every target position sees the whole source and the target
up to itself (causal). The causal mask ``j ≤ i`` makes the same network a plain language model.
Padding is never attended to.
"""

from __future__ import annotations

import torch

KINDS = ("prefix", "causal")


def attention_mask(segments: torch.Tensor, valid: torch.Tensor, kind: str) -> torch.Tensor:
    """Which key each query may attend to: ``(B, n, n)`` booleans, ``[b, i, j]`` true where query
    ``i`` reads key ``j``. ``segments`` ``(B, n)`` is 0 on the source and 1 on the target,
    ``valid`` ``(B, n)`` false on padding; ``kind`` is ``"prefix"`` or ``"causal"``."""
    if kind == "prefix":
        order = segments.long().cumsum(1)
        allowed = order.unsqueeze(1) <= order.unsqueeze(2)
    elif kind == "causal":
        n = segments.shape[1]
        allowed = torch.ones(n, n, dtype=torch.bool, device=segments.device).tril().unsqueeze(0)
    else:
        raise ValueError(f"mask {kind!r} is unknown; valid: {', '.join(KINDS)}.")
    return allowed & valid.unsqueeze(1)
