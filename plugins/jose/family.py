"""The JoSE family (Meng et al., "Spherical Text Embedding", 2019): word vectors u, context vectors
v and document vectors d on the unit sphere, trained on the max-margin loss of
:mod:`plugins.jose.sphere` over the triples of :mod:`plugins.jose.pairs`.

Riemannian SGD on the pipeline's spine. The core owns the optimizer (every trick composes with
every family), so the family does not step the vectors itself; it wraps the core's step instead:

1. ``on_before_optimizer_step`` replaces each table's gradient by its tangent part (I − x xᵀ) g.
   Lightning calls it after the tricks' callbacks (which may add to or rescale gradients) and
   before gradient clipping, so what the optimizer sees is a tangent vector.
2. The configured optimizer steps (with plain SGD: x − lr·(I − x xᵀ) g).
3. ``optimizer_step`` then retracts every row to the sphere, after any trick's optimizer wrapper.

With plain SGD this is exactly the paper's projected step and retraction; with Adam or momentum it
is the same projection and retraction around another step, and every row still ends on the sphere.
Evaluation normalises the rows anyway, as averaging tricks (``ema``, ``lookahead``) may leave them
inside the ball.

Each training document owns a row of the document table, picked by the batch's row indices
(:attr:`pipeline.training.module.ModelModule.batch_indices`). Held-out documents get the mean
direction of
their words' vectors u weighted by the chance subsampling keeps each word
(:func:`plugins.jose.sphere.mean_direction`): the d that the training pull toward the words
maximises, in closed form, so no optimisation runs at evaluation or in the exported encoder. On one
trained model, 20 Riemannian steps on a fresh d with the words frozen retrieved worse (precision@10
0.53) than the unweighted mean (0.62) and a weighted one (0.69). The validation loss uses the same
vectors.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pipeline import FIRST_WORD, EpochPartsModule, Family, PipelineError, word_counts
from plugins.jose.pairs import (
    keep_probability,
    negative_weights,
    triples,
)
from plugins.jose.retrieval import embedding_report
from plugins.jose.sphere import max_margin_loss, mean_direction, random_sphere, retract, tangent


class DocumentEncoder(nn.Module):
    """Rows of word ids → unit document vectors: the mean direction of their words' vectors u,
    each weighted by the chance training keeps it (reserved ids weigh 0). What the export stage
    writes."""

    def __init__(self, words: torch.Tensor, keep: torch.Tensor):
        super().__init__()
        self.words = nn.Parameter(retract(words.detach().clone()), requires_grad=False)
        self.register_buffer("keep", keep.detach().clone())

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        weights = self.keep[rows] * (rows >= FIRST_WORD).to(self.keep.dtype)
        return mean_direction(self.words[rows], weights)


class JoSEModule(EpochPartsModule):
    """Word, context and document tables on the unit sphere, trained by Riemannian steps."""

    batch_indices = True  # training batches are (x, y, index): the index picks each document's d

    def __init__(self, vocab_size, documents, dim, window, negatives, margin, subsample):
        super().__init__()
        self.window, self.negatives, self.margin, self.subsample = (
            window,
            negatives,
            margin,
            subsample,
        )
        self.words = nn.Parameter(random_sphere(vocab_size, dim))  # center vectors u
        self.contexts = nn.Parameter(random_sphere(vocab_size, dim))  # context vectors v
        self.documents = nn.Parameter(random_sphere(documents, dim))  # document vectors d
        # Corpus statistics, counted from the training split when a fit starts; checkpointed, as
        # evaluation and export weigh held-out documents' words by ``keep``.
        self.register_buffer("negative_weights", torch.ones(vocab_size))
        self.register_buffer("keep", torch.ones(vocab_size))

    def spherical(self) -> list[nn.Parameter]:
        """The tables whose rows live on the sphere."""
        return [self.words, self.contexts, self.documents]

    def count_words(self, rows: np.ndarray) -> None:
        """Set the negative-sampling and subsampling tables from the training documents."""
        counts = word_counts(rows, len(self.words))
        if counts.sum() == 0:
            raise PipelineError(
                "family jose found no word in the training documents (every id is PAD, BOS, EOS "
                "or UNK); lower data.min_count or give longer documents."
            )
        self.negative_weights.copy_(torch.from_numpy(negative_weights(counts)))
        self.keep.copy_(torch.from_numpy(keep_probability(counts, self.subsample)))

    def on_fit_start(self) -> None:
        data = getattr(self.trainer.datamodule, "data", None)
        if data is None:
            raise PipelineError(
                "family jose counts its words from the training split; fit it with the "
                "pipeline's PreparedDataModule."
            )
        self.count_words(data.train.x)

    def objective(self, rows, documents):
        """Mean hinge over the batch's triples, with ``documents`` the unit vector of each row."""
        t = triples(rows, self.window, self.negatives, self.negative_weights, self.keep)
        hinge = max_margin_loss(
            self.words[t.center],
            self.contexts[t.context],
            documents[t.row],
            self.words[t.negative],
            self.margin,
        )
        if not len(hinge):  # no document of the batch holds two words
            return self.words.sum() * 0, {}
        return hinge.mean(), {"active": (hinge > 0).float().mean()}

    def training_step(self, batch, batch_idx):
        x, _, index = batch
        loss, parts = self.objective(x, self.documents[index])
        self.log_step("train", loss, parts, len(x))
        return loss

    def validation_step(self, batch, batch_idx):
        x = batch[0]
        loss, parts = self.objective(x, self.infer(x))
        self.log_step("val", loss, parts, len(x))

    def encoder(self) -> DocumentEncoder:
        """A copy of the held-out documents' encoder with the current vectors."""
        return DocumentEncoder(self.words, self.keep)

    def infer(self, rows: torch.Tensor) -> torch.Tensor:
        """Held-out documents' vectors (see :class:`DocumentEncoder`)."""
        return self.encoder()(rows)

    def on_before_optimizer_step(self, optimizer) -> None:
        for table in self.spherical():
            if table.grad is not None:
                table.grad.copy_(tangent(table.detach(), table.grad))

    def optimizer_step(self, *args, **kwargs):
        super().optimizer_step(*args, **kwargs)
        with torch.no_grad():  # after every step, tricks' optimizer wrappers included
            for table in self.spherical():
                table.copy_(retract(table))


class JoSEFamily(Family):
    """Builds, evaluates and exports JoSE."""

    export_formats = ("ONNX",)  # a gather and a masked mean: no Keras twin

    def build(self, settings, info):
        if not info.vocab:
            raise PipelineError(
                f"family jose reads word ids, but {info.dataset} has no vocabulary; use a "
                "dataset of kind tokens, such as docstring_words."
            )
        if info.train_examples < 1:
            raise PipelineError(
                f"family jose keeps a vector per training document, but the prepared data of "
                f"{info.dataset} gives no in-memory training split size; rerun the prepare stage "
                "on a dataset that loads into memory."
            )
        names = ("dim", "window", "negatives", "margin", "subsample")
        return JoSEModule(len(info.vocab), info.train_examples, *(settings[name] for name in names))

    @torch.no_grad()
    def evaluate(self, module, data, out_dir):
        return embedding_report(module.encoder(), data, out_dir)

    def export_target(self, module, data):
        return module.encoder().eval(), torch.from_numpy(data.test.x[:256])
