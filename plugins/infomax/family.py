"""The Deep INFOMAX family: build; evaluate the codes with probes beside PCA and a VAE's codes;
export the encoder."""

from __future__ import annotations

import math

import torch
from torch import nn

from pipeline import Family
from plugins.generative.report import save_latent_scatter
from plugins.infomax.baseline import VAE_EPOCHS, vae_codes
from plugins.infomax.module import InfomaxModule
from plugins.infomax.probes import probe_report


class InfomaxFamily(Family):
    """Builds the encoder with its critics; evaluates and exports the encoder's mean code."""

    # The encoder starts with convolutions, which the generic Keras converter does not rebuild.
    export_formats = ("ONNX",)
    vae_epochs = VAE_EPOCHS  # the VAE baseline's training budget in evaluate

    def build(self, settings, info):
        side = math.isqrt(int(math.prod(info.input_shape)))
        if side * side != math.prod(info.input_shape):
            raise ValueError(
                f"model.family = infomax reads square images; data.name = {info.dataset} gives "
                f"rows of shape {info.input_shape}."
            )
        weights = (settings["global_mi"], settings["local_mi"], settings["prior"])
        return InfomaxModule(
            side, settings["latent"], settings["hidden"], settings["channels"], weights
        )

    @torch.no_grad()
    def evaluate(self, module, data, out_dir):
        codes = {
            split: module.codes(torch.from_numpy(getattr(data, split).x)).numpy()
            for split in ("train", "test")
        }
        train, test = data.train, data.test
        with torch.enable_grad():  # the VAE baseline trains here
            vae_train, vae_test = vae_codes(data, module.latent, self.vae_epochs)
        metrics = probe_report(
            codes["train"], codes["test"], train.x, test.x, train.y, test.y, vae_train, vae_test
        )
        _, parts = module.objective(torch.from_numpy(test.x))
        metrics.update({f"test_{name}": float(value) for name, value in parts.items()})
        save_latent_scatter(codes["test"], test.y, out_dir / "codes.png", "Deep INFOMAX codes")
        return metrics

    def export_target(self, module, data):
        mean = nn.Linear(module.posterior.in_features, module.latent)
        mean.weight.data.copy_(module.posterior.weight[: module.latent])
        mean.bias.data.copy_(module.posterior.bias[: module.latent])
        encoder = nn.Sequential(*module.local, *module.dense, mean).eval()
        return encoder, torch.from_numpy(data.test.x[:64])
