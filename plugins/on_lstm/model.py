"""The ON-LSTM character language model, and the plain LSTM of the same size trained beside it.

Both read ``BOS text EOS`` rows and predict each next token. The baseline LSTM sits in the same
module: one loss (their sum; the two share no parameter) means it sees the same batches, optimizer,
tricks and epochs, so ``lstm_perplexity`` is a like-for-like comparison.
"""

from __future__ import annotations

import torch
from torch import nn

from pipeline import PAD, EpochPartsModule
from plugins.on_lstm.cell import OnLstm
from plugins.sequence.nll import Scored, next_token_nll


class OnLstmNet(nn.Module):
    """Token ids ``(batch, time)`` → next-token logits ``(batch, time, vocab)``."""

    def __init__(
        self, vocab: int, embedding: int, hidden: int, chunk_size: int, layers: int, dropout: float
    ):
        super().__init__()
        self.embed = nn.Embedding(vocab, embedding)
        self.drop = nn.Dropout(dropout)
        self.rnn = OnLstm(embedding, hidden, chunk_size, layers, dropout)
        self.head = nn.Linear(hidden, vocab)

    def logits_and_gates(self, ids: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The logits and each layer's master forget gates ``(batch, time, levels)``."""
        out, gates = self.rnn(self.drop(self.embed(ids)))
        return self.head(self.drop(out)), gates

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.logits_and_gates(ids)[0]


class OnLstmStep(nn.Module):
    """One step of a trained :class:`OnLstmNet`, the form the LM is exported and served in:
    ``(token (batch,), h, c)`` → ``(next-token logits (batch, vocab), h, c)``, each state
    ``(batch, layers, hidden)`` and zeros before the first token; the caller loops over tokens. Its
    graph does not depend on the text's length (an unrolled sequence would be one copy of the cell
    per position)."""

    def __init__(self, net: OnLstmNet):
        super().__init__()
        self.net = net

    def forward(
        self, token: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.net.drop(self.net.embed(token))
        hs, cs = [], []
        for depth, cell in enumerate(self.net.rnn.cells):
            if depth:
                x = self.net.rnn.drop(x)
            x, c_next, _ = cell(cell.ih(x), (h[:, depth], c[:, depth]))
            hs.append(x)
            cs.append(c_next)
        return self.net.head(self.net.drop(x)), torch.stack(hs, 1), torch.stack(cs, 1)

    def start_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The zero state before the first token."""
        cells = self.net.rnn.cells
        zeros = torch.zeros(batch, len(cells), cells[0].hidden)
        return zeros, zeros.clone()


class LstmNet(nn.Module):
    """The same language model with ``torch.nn.LSTM`` in place of the ON-LSTM."""

    def __init__(self, vocab: int, embedding: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.embed = nn.Embedding(vocab, embedding)
        self.drop = nn.Dropout(dropout)
        self.rnn = nn.LSTM(
            embedding, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.drop(self.embed(ids)))
        return self.head(self.drop(out))


def trimmed(ids: torch.Tensor) -> torch.Tensor:
    """The rows cut after the batch's last non-``PAD`` column, so padding costs no steps."""
    used = int((ids != PAD).sum(dim=1).max())
    return ids[:, : max(used, 2)]


def net_nll(net: nn.Module, ids: torch.Tensor) -> Scored:
    """Summed negative log-likelihood of the non-``PAD`` tokens after the first, and their count."""
    ids = trimmed(ids)
    return next_token_nll(net(ids[:, :-1]).log_softmax(-1), ids[:, 1:])


def net_loss(net: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """Mean next-token negative log-likelihood of a batch."""
    total, count = net_nll(net, ids)
    return total / count.clamp_min(1)


class OnLstmModule(EpochPartsModule):
    """Trains :class:`OnLstmNet` and, when ``baseline`` is set, :class:`LstmNet` beside it."""

    def __init__(
        self,
        vocab: int,
        embedding: int,
        hidden: int,
        chunk_size: int,
        layers: int,
        dropout: float,
        baseline: bool,
    ):
        super().__init__()
        self.net = OnLstmNet(vocab, embedding, hidden, chunk_size, layers, dropout)
        self.baseline = LstmNet(vocab, embedding, hidden, layers, dropout) if baseline else None

    @property
    def capture_modules(self) -> tuple[str, ...]:
        """What the ``capture`` trick records by default: each ON-LSTM cell's (h, c, master forget
        gate), its steps stacked, so ``net.rnn.cells.0[2]`` maps the gate levels over time."""
        return tuple(f"net.rnn.cells.{depth}" for depth in range(len(self.net.rnn.cells)))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.net(ids)

    def _losses(self, ids: torch.Tensor, stage: str) -> torch.Tensor:
        loss = net_loss(self.net, ids)
        parts = {} if self.baseline is None else {"lstm_loss": net_loss(self.baseline, ids)}
        self.log_step(stage, loss, parts, len(ids))
        return loss + sum(parts.values())

    def training_step(self, batch, batch_idx):
        return self._losses(batch[0], "train")

    def validation_step(self, batch, batch_idx):
        self._losses(batch[0], "val")
