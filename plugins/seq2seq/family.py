"""The seq2seq title generator's training, evaluation and export (imported only when a stage needs
them)."""

from __future__ import annotations

import torch

from pipeline import BOS, Family
from plugins.seq2seq.network import DecoderStepPart, EncoderPart, Seq2Seq
from plugins.seq2seq.scoring import score_titles
from plugins.seq2seq.search import beam_search, greedy, step_context
from plugins.sequence.nll import NextTokenModule, next_token_nll

EXAMPLES = 64  # articles of the export's parity check


class Seq2SeqModule(NextTokenModule):
    """Trains :class:`Seq2Seq` on the titles' next-character cross-entropy (teacher forcing); the
    losses are nats per title character, the end marker included."""

    def __init__(
        self, vocab: int, embedding: int, hidden: int, dropout: float, beam: int, max_title: int
    ):
        super().__init__()
        self.beam, self.max_title = beam, max_title
        self.model = Seq2Seq(vocab, embedding, hidden, dropout)

    def forward(self, ids: torch.Tensor, titles: torch.Tensor) -> torch.Tensor:
        return self.model(ids, titles[:, :-1])

    def nll(self, batch):
        ids, titles = batch
        return next_token_nll(self(ids, titles), titles[:, 1:])

    @torch.no_grad()
    def titles(self, ids: torch.Tensor, width: int | None = None) -> torch.Tensor:
        """Generated title ids ``(B, max_title)``: beam search of ``width`` (the ``beam`` setting
        when None; 1 is greedy decoding)."""
        width = width or self.beam
        encoded, step = self.model.encode(ids), DecoderStepPart(self.model)
        if width == 1:
            return greedy(step, encoded, self.max_title)[0]
        return beam_search(step, encoded, width, self.max_title)[0]


class Seq2SeqFamily(Family):
    """Builds, evaluates and exports the title generator (ONNX only: the decoder step's loop is
    the caller's, and no Keras twin is written)."""

    export_formats = ("ONNX",)

    def build(self, settings, info):
        return Seq2SeqModule(
            len(info.vocab),
            settings["embedding"],
            settings["hidden"],
            settings["dropout"],
            settings["beam"],
            settings["max_title"],
        )

    def evaluate(self, module, data, out_dir):
        return score_titles(module, data, out_dir)

    def export_target(self, module, data):
        module.eval()
        model = module.model
        ids = torch.from_numpy(data.test.x[:EXAMPLES])
        with torch.no_grad():
            encoded = model.encode(ids)
        token = torch.from_numpy(data.test.y[:EXAMPLES, 1]).clamp_min(BOS)
        step_inputs = (token, encoded.state, *step_context(encoded))
        return {
            "encoder": (EncoderPart(model).eval(), (ids,)),
            "decoder_step": (DecoderStepPart(model).eval(), step_inputs),
        }
