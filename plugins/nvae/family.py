"""The NVAE family: a VAE whose latent is a top-down hierarchy of groups (see
:mod:`plugins.nvae.hierarchy`), trained on the ELBO with a KL warm-up.

The module is a :class:`VAEModule` whose encoder and decoder are the hierarchy's, so the VAE
families' ELBO estimate, report and pictures apply unchanged. Its latent code is the noise ε of the
generative path: ``decode(ε)`` draws z_l = μ_p + σ_p·ε_l group by group, and ``encode(x)`` gives
the ε of the posterior means (whitened by the prior they are drawn under), so ``decode(encode(x))``
rebuilds x from its posterior means. With one group this *is* the plain VAE: N(0, I) prior, an
encoder x → (μ, log σ²) and a decoder z → logits.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pipeline import EpochPartsModule, Family, save_image_grid
from plugins.generative.report import is_image, latent_generator
from plugins.generative.vae import VAEModule, reconstruction_nll
from plugins.generative.vae_report import vae_report
from plugins.nvae.hierarchy import Descent, Posterior, TopDown


class NVAEModule(VAEModule):
    """Posterior q(z_l | x, z_<l) and generative path p(x, z) = p(x | z) Π p(z_l | z_<l)."""

    def __init__(self, inputs: int, hidden: int, latent: int, groups: int, cells: int, warmup: int):
        # VAEModule's flat networks are not built: the hierarchy replaces them.
        EpochPartsModule.__init__(self)
        self.latent = latent * groups  # width of the noise the generative path takes
        self.recon_weight = 1.0
        self.warmup = warmup
        self.posterior = Posterior(inputs, hidden, latent, groups, cells)
        self.decoder = TopDown(inputs, hidden, latent, groups, cells)

    def descend(self, x: torch.Tensor, sample: bool = True) -> Descent:
        """One pass through q and the generative path; ``sample`` False takes posterior means."""
        return self.posterior.descend(
            x, self.decoder, torch.randn_like if sample else torch.zeros_like
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior means as noise of the generative path, (μ − μ_p)/σ_p = Δμ/σ_p per group,
        and the posterior's log-variance in those coordinates, log Δσ²."""
        descent = self.descend(x, sample=False)
        whitened = [
            ((mu - prior_mu) * (-0.5 * prior_logvar).exp(), logvar - prior_logvar)
            for (mu, logvar), (prior_mu, prior_logvar) in zip(
                descent.posteriors, descent.priors, strict=True
            )
        ]
        codes, logvars = zip(*whitened, strict=True)
        return torch.cat(codes, dim=1), torch.cat(logvars, dim=1)

    def negative_elbo(self, x, y):
        """−ELBO per row from one posterior sample: reconstruction plus every group's KL."""
        descent = self.descend(x)
        recon = reconstruction_nll(descent.logits, x)
        kl = torch.stack(descent.kls).sum(0)
        groups = {f"kl_group_{index}": kl_l for index, kl_l in enumerate(descent.kls, start=1)}
        return recon + kl, {"recon": recon, "kl": kl, **groups}

    def kl_weight(self) -> float:
        """β of the KL warm-up: 1/(w+1), 2/(w+1), … over the first w = ``warmup`` training epochs,
        then 1; validation and evaluation always use 1, so val_loss is the true −ELBO."""
        if not self.training:
            return 1.0
        return min(1.0, (self.current_epoch + 1) / (self.warmup + 1))

    def objective(self, batch):
        x, y = batch
        _, parts = self.negative_elbo(x, y)
        loss = (parts["recon"] + self.kl_weight() * parts["kl"]).mean()
        return loss, {name: value.mean() for name, value in parts.items()}


def shared_top_noise(top: int, width: int, rows: int, columns: int, generator) -> torch.Tensor:
    """Noise of ``width`` values whose first ``top`` (the top group's ε) are shared along each of
    ``rows`` rows while the lower groups' vary over its ``columns``."""
    shared = torch.randn(rows, top, generator=generator).repeat_interleave(columns, dim=0)
    lower = torch.randn(rows * columns, width - top, generator=generator)
    return torch.cat([shared, lower], dim=1)


class NVAEFamily(Family):
    """Builds, evaluates and exports the hierarchical VAE (its generative path)."""

    export_formats = ("ONNX",)  # residual cells and the per-group loop are no plain Sequential

    def build(self, settings, info):
        names = ("hidden", "latent", "groups", "cells", "warmup")
        return NVAEModule(int(np.prod(info.input_shape)), *(settings[name] for name in names))

    @torch.no_grad()
    def evaluate(self, module, data, out_dir):
        generator = latent_generator()
        prior_noise = torch.randn(len(data.test.x), module.latent, generator=generator)
        metrics, _ = vae_report(module, data, out_dir, prior_noise, "NVAE")
        if is_image(data.test.x.shape[1]):
            samples = module.decode(prior_noise[:50]).numpy()
            save_image_grid(
                np.concatenate([data.test.x[:50], samples]),
                out_dir / "real_and_samples.png",
                title="NVAE: test digits (rows 1–5) and samples from the prior (rows 6–10)",
            )
            top = module.decoder.latent
            if module.latent > top:
                noise = shared_top_noise(top, module.latent, 10, 10, generator)
                save_image_grid(
                    module.decode(noise).numpy(),
                    out_dir / "hierarchy.png",
                    title="NVAE: each row shares the top group z₁; the lower groups vary",
                )
        return metrics

    def export_target(self, module, data):
        noise = torch.randn(256, module.latent, generator=latent_generator(1))
        return nn.Sequential(module.decoder, nn.Sigmoid()).eval(), noise
