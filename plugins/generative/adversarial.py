"""The single-loss GAN all three adversarial families share: one optimizer, one loss, two players.

``L = L_D(x, sg(G(z))) + λ·gradient_only(L_G(D_sg(G(z))))`` (see
:mod:`plugins.generative.stopgrad`):
its value is the discriminator's loss and its gradient is ∇_D L_D for D and λ∇_G L_G for G, so a
plain optimizer step moves both players as one step of each would in 1:1 alternating training
(both from the same point). Subclasses define the two losses; the base feeds the generator's loss
only the discriminator's frozen outputs, so it cannot reach D's parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from pipeline import EpochPartsModule
from plugins.generative.nets import mlp
from plugins.generative.stopgrad import frozen_call, gradient_only


class SingleLossGAN(EpochPartsModule):
    """Generator z → x in [0, 1] and discriminator x → scores (``scores`` outputs), trained by one
    loss."""

    def __init__(
        self,
        inputs: int,
        hidden: int,
        latent: int,
        generator_weight: float,
        scores: int = 1,
        flat_start: bool = True,
    ):
        super().__init__()
        self.latent = latent
        self.generator_weight = generator_weight
        self.generator = mlp([latent, hidden, hidden, inputs], nn.LeakyReLU, output=nn.Sigmoid())
        self.discriminator = mlp([inputs, hidden, hidden, scores], nn.LeakyReLU)
        if flat_start:
            # A discriminator that starts flat has no random slope for G to chase before D has seen
            # data,
            # and lets a WGAN critic take the sign of its slope from the data, not from the penalty.
            nn.init.zeros_(self.discriminator[-1].weight)
            nn.init.zeros_(self.discriminator[-1].bias)

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor, z: torch.Tensor):
        """L_D and parts to log; ``fake`` is already cut from the generator."""
        raise NotImplementedError

    def generator_loss(self, fake_scores: torch.Tensor, z: torch.Tensor):
        """L_G and parts to log, from the discriminator's outputs on G(z) under frozen
        parameters."""
        raise NotImplementedError

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I)."""
        return torch.randn(n, self.latent, generator=generator, device=self.device)

    def single_loss(self, real: torch.Tensor, z: torch.Tensor | None = None):
        """The one loss and its named parts (``d_loss``, ``g_loss`` and whatever the subclass
        adds)."""
        z = self.noise(len(real)) if z is None else z
        fake = self.generator(z)
        d_loss, d_parts = self.discriminator_loss(real, fake.detach(), z)
        g_loss, g_parts = self.generator_loss(frozen_call(self.discriminator, fake), z)
        loss = d_loss + self.generator_weight * gradient_only(g_loss)
        return loss, {"d_loss": d_loss, "g_loss": g_loss, **d_parts, **g_parts}

    def objective(self, batch):
        """The single loss of a batch ``(x, y)`` and its parts; the labels are not used."""
        return self.single_loss(batch[0])

    def training_step(self, batch, batch_idx):
        loss, parts = self.objective(batch)
        self.log_step("train", loss, parts, len(batch[0]))
        return loss

    def validation_step(self, batch, batch_idx):
        # Losses such as the gradient penalty differentiate inside the loss, which inference mode
        # forbids.
        with torch.inference_mode(False), torch.enable_grad():
            loss, parts = self.objective((batch[0].clone(), batch[1]))
        self.log_step("val", loss, parts, len(batch[0]))
