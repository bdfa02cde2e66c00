"""The classifier's model and evaluation (imported only when a stage needs them): the opening
model of "“让Keras更酷一些!”:随意的输出和灵活的归一化" ("Make Keras cooler!": arbitrary outputs and
flexible normalization), Dense(100, relu) → Dense(10, softmax)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pipeline import Chance, EpochPartsModule, Family, save_confusion
from plugins.classifier.soft import LOSSES


class ClassifierModule(EpochPartsModule):
    """Dense(hidden, relu) → Dense(classes); the softmax is applied in the loss and at export.

    ``loss`` names the training loss (:data:`plugins.classifier.soft.LOSSES`); validation reports
    it as ``val_loss``.
    """

    def __init__(self, inputs: int, hidden: int, classes: int, loss: str = "cross_entropy"):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, classes))
        self.loss = LOSSES[loss]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        self.log_step("train", loss, {"acc": (logits.argmax(1) == y).float().mean()}, len(y))
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        accuracy = (logits.argmax(1) == y).float().mean()
        self.log_step("val", self.loss(logits, y), {"acc": accuracy}, len(y))


class ClassifierFamily(Family):
    """Builds, evaluates and exports the classifier."""

    def build(self, settings, info):
        return ClassifierModule(
            int(np.prod(info.input_shape)),
            settings["hidden"],
            info.num_classes,
            settings.get("loss", "cross_entropy"),
        )

    @torch.no_grad()
    def evaluate(self, module, data, out_dir):
        x = torch.from_numpy(data.test.x)
        probs = torch.softmax(module(x), dim=1)
        y_true, y_pred = data.test.y, probs.argmax(1).numpy()
        save_confusion(y_true, y_pred, out_dir, data.info.num_classes)
        picked = probs[torch.arange(len(y_true)), torch.from_numpy(y_true)]
        metrics = {
            "accuracy": float((y_pred == y_true).mean()),
            "nll": float(-picked.clamp_min(1e-12).log().mean()),
        }
        if data.info.num_classes == 2:  # class 1 is the positive one; argmax is threshold 0.5
            from sklearn.metrics import f1_score

            metrics["f1"] = float(f1_score(y_true, y_pred, zero_division=0))
        return metrics

    @torch.no_grad()
    def chance_level(self, module, data):
        if data.sharded:  # streamed splits are not read whole here
            return None
        predicted = module(torch.from_numpy(data.val.x)).argmax(1).numpy()
        majority = np.bincount(data.val.y, minlength=data.info.num_classes).max() / len(data.val.y)
        return Chance("validation accuracy", float((predicted == data.val.y).mean()), majority)

    def export_target(self, module, data):
        return nn.Sequential(*module.net, nn.Softmax(dim=1)).eval(), torch.from_numpy(data.test.x)
