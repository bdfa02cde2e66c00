"""The two networks plug-and-play control needs: an unconditional language model (the
``cln_lm`` Transformer with a single label, so no condition) and a small attribute classifier that
reads a label from the running mean of the language model's final hidden states."""

from __future__ import annotations

import torch
from torch import nn

from pipeline import PAD
from plugins.cln_lm.model import ConditionalLM


class UnconditionalLM(nn.Module):
    """Token ids (batch, n) → next-token logits (batch, n, vocab), with the final hidden states
    (the head's input) exposed for steering.

    The network is a :class:`~plugins.cln_lm.model.ConditionalLM` built with one label: every row
    gets the same condition, a constant the training absorbs, so the model is unconditional.
    """

    def __init__(self, **sizes):
        super().__init__()
        self.lm = ConditionalLM(labels=1, **sizes)
        self.length = self.lm.length

    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        """The final hidden states (batch, n, d_model) of token ids."""
        return self.hidden_of(self.lm.token_embed(tokens))

    def hidden_of(self, embedded: torch.Tensor) -> torch.Tensor:
        """The final hidden states (batch, n, d_model) of token vectors (batch, n, d_model), which
        may be mixtures of token embeddings: ``ConditionalLM.forward`` with label 0 for every row,
        stopped before the output head."""
        lm = self.lm
        positions = torch.arange(embedded.shape[1], device=embedded.device)
        x = lm.dropout(embedded + lm.position_embed(positions))
        c = lm.label_embed(torch.zeros_like(embedded[:, 0, 0], dtype=torch.long))
        for block in lm.blocks:
            x = block(x, c)
        return lm.norm(x, c)

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        """Next-token logits of final hidden states."""
        return self.lm.head(hidden)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(tokens))


def running_means(hidden: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """At every position, the mean of the hidden states (batch, n, d) of the non-``PAD`` tokens up
    to and including it: what the attribute classifier reads of a text written so far."""
    kept = (tokens != PAD).unsqueeze(-1).to(hidden.dtype)
    return (hidden * kept).cumsum(1) / kept.cumsum(1).clamp_min(1)


class AttributeClassifier(nn.Module):
    """p(label | text so far): a linear map of the mean of the text's final hidden states."""

    def __init__(self, d_model: int, classes: int):
        super().__init__()
        self.linear = nn.Linear(d_model, classes)

    def forward(self, mean_hidden: torch.Tensor) -> torch.Tensor:
        """Label logits (…, classes) of mean hidden states (…, d_model)."""
        return self.linear(mean_hidden)
