"""O-GAN: samples like a GAN, and encodes: ρ(z, E(G(z))) and how well G(E(x)) reconstructs x."""

from __future__ import annotations

import numpy as np
import torch

from pipeline import Family, save_image_grid
from plugins.generative.gan_report import gan_report, generator_export
from plugins.generative.judge import Judge
from plugins.generative.report import (
    is_image,
    latent_generator,
    save_interpolations,
    save_latent_scatter,
)
from plugins.ogan.module import OGANModule, pearson


class OGANFamily(Family):
    """Builds, evaluates and exports O-GAN."""

    def build(self, settings, info):
        return OGANModule(
            int(np.prod(info.input_shape)),
            settings["hidden"],
            settings["latent"],
            settings["generator_weight"],
            settings["r1"],
            settings["correlation_weight"],
        )

    @torch.no_grad()
    def evaluate(self, module, data, out_dir):
        metrics = gan_report(module, data, out_dir, "O-GAN")
        z = module.noise(len(data.test.x), latent_generator(2))
        metrics["rho"] = float(pearson(z, module.discriminator(module.generator(z))).mean())
        x = torch.from_numpy(data.test.x)
        codes = module.encode(x)
        recon = module.generator(codes)
        metrics["reconstruction_mse"] = float((recon - x).pow(2).mean())
        # The same error against other test examples: what reconstruction would score if it ignored
        # x.
        metrics["reconstruction_mse_shuffled"] = float((recon - x.roll(1, 0)).pow(2).mean())
        # The referee reads the same digit in G(E(x)) as x's label: E keeps what the image shows.
        metrics["reconstruction_class_agreement"] = Judge(data).score(recon, data.test.y)
        save_latent_scatter(
            codes.numpy(),
            data.test.y,
            out_dir / "latent_scatter.png",
            "O-GAN: test codes E(x) by class",
        )
        if is_image(x.shape[1]):
            pairs = np.stack(
                [data.test.x[:20].reshape(2, 10, -1), recon[:20].numpy().reshape(2, 10, -1)], axis=1
            )
            save_image_grid(
                pairs.reshape(40, -1),
                out_dir / "reconstructions.png",
                columns=10,
                title="O-GAN: test digits (rows 1, 3) and G(E(x)) (rows 2, 4)",
            )
            save_interpolations(
                module.generator,
                codes[:6],
                codes[6:12],
                out_dir / "interpolations.png",
                "O-GAN: decoded straight lines between the codes E(x) of test digits",
            )
        return metrics

    def export_target(self, module, data):
        return generator_export(module)
