"""The heavy part of the logistic family: model, evaluation, export target."""

import torch
import torch.nn.functional as F
from torch import nn

from pipeline import Family, ModelModule, save_confusion


class LogisticModule(ModelModule):
    def __init__(self, inputs: int, classes: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(inputs, classes))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self.net(x), y))


class LogisticFamily(Family):
    def build(self, settings, info):
        return LogisticModule(info.input_shape[0], info.num_classes)

    @torch.no_grad()
    def evaluate(self, module, data, out_dir):
        predicted = module.net(torch.from_numpy(data.test.x)).argmax(1).numpy()
        # a picture for dvc plots and MLflow: confusion.csv and confusion_matrix.png
        save_confusion(data.test.y, predicted, out_dir, data.info.num_classes)
        return {"accuracy": float((predicted == data.test.y).mean())}

    def export_target(self, module, data):
        return nn.Sequential(*module.net, nn.Softmax(dim=1)), torch.from_numpy(data.test.x)
