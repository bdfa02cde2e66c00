"""The UniLM title generator's training, evaluation and export (imported only when a stage needs
them). Evaluation scores the same titles and baselines, under the same metric names, as the
``seq2seq`` family: its baselines, ROUGE and titles table are imported, not copied."""

from __future__ import annotations

import torch

from pipeline import Family, PipelineError
from plugins.seq2seq.scoring import score_titles
from plugins.sequence.nll import NextTokenModule, next_token_nll
from plugins.unilm.decode import beam_search
from plugins.unilm.model import UniLM, no_title, repeated

EXAMPLES = 64  # articles of the export's parity check


class UniLMModule(NextTokenModule):
    """Trains :class:`UniLM` on the next-token cross-entropy of the title tokens only (the article
    is read, never predicted); the losses are nats per title character, the end marker included.
    Titles are cut to ``max_title`` tokens, the most that decoding writes."""

    def __init__(self, beam: int, max_title: int, **sizes):
        super().__init__()
        self.beam, self.max_title = beam, max_title
        self.model = UniLM(**sizes)

    def forward(self, ids: torch.Tensor, titles: torch.Tensor) -> torch.Tensor:
        """Log-probabilities ``(B, L, V)`` of the token after each of the title inputs."""
        return self.model(ids, titles).log_softmax(-1)

    def nll(self, batch):
        ids, titles = batch
        titles = titles[:, : self.max_title + 1]
        return next_token_nll(self(ids, titles[:, :-1]), titles[:, 1:])

    @torch.no_grad()
    def titles(self, ids: torch.Tensor, width: int | None = None) -> torch.Tensor:
        """Generated title ids ``(B, max_title)``: beam search of ``width`` (the ``beam`` setting
        when None; 1 is greedy decoding), the article read once."""
        width = width or self.beam
        prefix = repeated(self.model.read(ids), width)

        def step(token: torch.Tensor, title: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            logits, title = self.model.next_token(prefix, token, title)
            return logits.log_softmax(-1), title

        return beam_search(step, no_title(prefix), width, self.max_title)[0]


class UniLMFamily(Family):
    """Builds, evaluates and exports the title generator (to ONNX: the network's next-token
    log-probabilities; the beam search that calls it is the caller's, and no Keras twin is
    written)."""

    export_formats = ("ONNX",)

    def build(self, settings, info):
        if settings["d_model"] % settings["heads"]:
            raise PipelineError(
                f"model.d_model = {settings['d_model']} is not a multiple of model.heads = "
                f"{settings['heads']}; choose a d_model that the heads divide."
            )
        return UniLMModule(
            settings["beam"],
            settings["max_title"],
            vocab=len(info.vocab),
            positions=info.input_shape[0] + settings["max_title"],
            d_model=settings["d_model"],
            heads=settings["heads"],
            layers=settings["layers"],
            dropout=settings["dropout"],
            mask=settings["mask"],
        )

    def evaluate(self, module, data, out_dir):
        return score_titles(module, data, out_dir)

    def export_target(self, module, data):
        ids = torch.from_numpy(data.test.x[:EXAMPLES])
        titles = torch.from_numpy(data.test.y[:EXAMPLES, : module.max_title])
        return module.model.eval(), (ids, titles)
