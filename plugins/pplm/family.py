"""Plug-and-play control's training, evaluation and export (imported only when a stage needs them).

Training fits the unconditional language model on next-token loss, the labels unseen, and beside it
the attribute classifier on the language model's hidden states (detached, so the classifier never
shapes the language model). Evaluation generates texts steered toward each label and unsteered, and
has the ``cln_lm`` referee read their labels. Export writes the language model alone: the steering
is generation-time code (gradients through the networks at every token), not part of the network.
"""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import torch
import torch.nn.functional as F

from pipeline import PAD, Family, PipelineError
from plugins.cln_lm.referee import Referee
from plugins.cln_lm.sizes import transformer_sizes
from plugins.pplm.model import AttributeClassifier, UnconditionalLM, running_means
from plugins.pplm.report import draw_report, write_samples
from plugins.pplm.steering import Steering, generate
from plugins.sequence.nll import NextTokenModule, mean_nll, next_token_nll

PER_LABEL = 100  # generated texts per label that the referee reads


class PPLMModule(NextTokenModule):
    """An unconditional language model and an attribute classifier of its hidden states, trained
    side by side; ``train_loss`` is the language model's nats per token plus the classifier's
    cross-entropy (logged apart as ``lm_nll`` and ``classifier_loss``)."""

    def __init__(self, classes: int, temperature: float, steering: Steering, **sizes):
        super().__init__()
        self.temperature, self.steering = temperature, steering
        self.lm = UnconditionalLM(**sizes)
        self.classifier = AttributeClassifier(sizes["d_model"], classes)

    @property
    def capture_modules(self) -> tuple[str, ...]:
        """What the ``capture`` trick records by default: each block's attention maps (softmax
        attention; linear attention forms none, so each block's attention output)."""
        kind = self.lm.lm.blocks[0].attention.kind
        blocks = "lm.lm.blocks.*.attention"
        return (f"{blocks}.map",) if kind == "softmax" else (blocks,)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.lm(tokens)

    def nll(self, batch):
        rows = batch[0]
        return next_token_nll(self(rows[:, :-1]).log_softmax(-1), rows[:, 1:])

    def losses(self, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The batch's loss and its parts: next-token nats per token, and the classifier's
        cross-entropy of the row's label from the mean hidden state of every prefix of the row
        (the text as generation sees it, growing)."""
        rows, labels = batch
        inputs = rows[:, :-1]
        hidden = self.lm.hidden(inputs)
        nll, count = next_token_nll(self.lm.head(hidden).log_softmax(-1), rows[:, 1:])
        lm_nll = nll / count.clamp_min(1)
        read = inputs != PAD
        read[:, 0] = False  # after BOS alone nothing is written yet
        label_logits = self.classifier(running_means(hidden.detach(), inputs))
        classifier_loss = F.cross_entropy(
            label_logits[read], labels[:, None].expand_as(inputs)[read]
        )
        return lm_nll + classifier_loss, {"lm_nll": lm_nll, "classifier_loss": classifier_loss}

    def training_step(self, batch, batch_idx):
        loss, parts = self.losses(batch)
        self.log_step("train", loss, parts, len(batch[0]))
        return loss

    def validation_step(self, batch, batch_idx):
        loss, parts = self.losses(batch)
        self.log_step("val", loss, parts, len(batch[0]))


def perplexity(module: PPLMModule, rows: np.ndarray) -> float:
    """exp of the mean negative log-likelihood per predicted token of ``rows`` under the
    unsteered language model."""
    return math.exp(mean_nll(module.nll, rows))


@torch.no_grad()
def classifier_accuracy(module: PPLMModule, rows: np.ndarray, labels: np.ndarray) -> float:
    """Share of whole texts whose label the attribute classifier reads right."""
    inputs = torch.from_numpy(rows[:, :-1])
    means = running_means(module.lm.hidden(inputs), inputs)[:, -1]
    return float((module.classifier(means).argmax(-1).numpy() == labels).mean())


class PPLMFamily(Family):
    """Builds, evaluates and exports plug-and-play control. Export writes the language model (to
    ONNX: it has no Keras twin); steering is generation-time code around it."""

    export_formats = ("ONNX",)

    def build(self, settings, info):
        if info.num_classes < 2:
            raise PipelineError(
                f"model.family = pplm steers toward labels, but the data has "
                f"{info.num_classes} class(es); use labelled token data such as cond_strings."
            )
        steering = Steering(**{field.name: settings[field.name] for field in fields(Steering)})
        return PPLMModule(
            info.num_classes,
            settings["temperature"],
            steering,
            **transformer_sizes(settings, info),
        )

    @torch.no_grad()
    def evaluate(self, module, data, out_dir):
        module.eval()
        classes = data.info.num_classes
        wanted = torch.arange(classes).repeat_interleave(PER_LABEL)
        texts = {
            kind: generate(
                module.lm,
                module.classifier,
                wanted,
                steering,
                module.temperature,
                torch.Generator().manual_seed(0),
            ).numpy()
            for kind, steering in (("steered", module.steering), ("unsteered", None))
        }
        referee = Referee(data)
        read = {kind: referee.predict(rows) for kind, rows in texts.items()}
        per_label = {
            kind: [float((labels[wanted == c] == c).mean()) for c in range(classes)]
            for kind, labels in read.items()
        }
        metrics = {
            "perplexity": perplexity(module, data.test.x),
            "classifier_accuracy": classifier_accuracy(module, data.test.x, data.test.y),
            "referee_accuracy": referee.accuracy,
            "label_accuracy": float(np.mean(per_label["steered"])),
            "label_accuracy_min": min(per_label["steered"]),
            "label_accuracy_unsteered": float(np.mean(per_label["unsteered"])),
            "steered_perplexity": perplexity(module, texts["steered"]),
            "unsteered_perplexity": perplexity(module, texts["unsteered"]),
        }
        ratio = metrics["steered_perplexity"] / metrics["unsteered_perplexity"]
        metrics["steered_perplexity_ratio"] = ratio
        write_samples(data, texts, read, PER_LABEL, module, out_dir / "generated.txt")
        draw_report(metrics, per_label, data, out_dir / "steering.png")
        return metrics

    def export_target(self, module, data):
        return module.lm.eval(), torch.from_numpy(data.test.x[:, :-1])
