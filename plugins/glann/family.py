"""GLANN: a generator trained without a discriminator, in two phases of one fit.

1. GLO, the first ``glo_epochs`` epochs: every training example i owns a learned code z_i (a row of
   the parameter ``codes``, kept in the unit ball, see :mod:`plugins.glann.imle`), and the generator
   G learns to reconstruct x_i from z_i jointly with the codes. The loss is the Bernoulli negative
   log-likelihood summed over pixels, as the VAEs use: digits' pixels are intensities in [0, 1],
   mostly near 0 or 1, where a squared error would be content with grey strokes. (The paper's
   perceptual loss needs a pretrained feature network, which 8×8 digits do not have.)
2. IMLE, the remaining epochs: G and the codes are frozen (the loss no longer reaches them, so the
   optimizer leaves them exactly as they are) and a map T from Gaussian noise e learns to put a
   sample T(e) near every code. Sequential rather than joint, as in the paper: IMLE fits T to a
   fixed set of points, and codes that still moved would leave T chasing them.

Samples are G(T(e)), e ~ N(0, I). The noise of each IMLE batch comes from a generator seeded by the
module's checkpointed ``noise_seed``, the epoch and the batch, so a resumed run draws the noise an
uninterrupted one would.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pipeline import EpochPartsModule, Family, save_image_grid
from plugins.generative.judge import Judge
from plugins.generative.nets import mlp
from plugins.generative.report import (
    is_image,
    latent_generator,
    sample_metrics,
    save_interpolations,
    save_samples,
)
from plugins.generative.vae import reconstruction_nll
from plugins.glann.imle import imle_loss, nearest, project_to_ball

POOL = 1000  # samples the validation loss and evaluate search for each digit's or code's nearest
BATCHES_PER_EPOCH = 1_000_003  # spacing of the IMLE noise seeds of consecutive epochs


class GLANNModule(EpochPartsModule):
    """Codes z_i (one row per training example), generator G: z → pixel logits, map T: e → z."""

    batch_indices = True  # training batches are (x, y, index): the index picks each row's code

    def __init__(self, inputs, examples, hidden, latent, noise, glo_epochs, imle_samples):
        super().__init__()
        self.latent, self.noise_size = latent, noise
        self.glo_epochs, self.imle_samples = glo_epochs, imle_samples
        start = torch.randn(examples, latent)
        self.codes = nn.Parameter(start / start.norm(dim=1, keepdim=True))
        self.generator = mlp([latent, hidden, hidden, inputs])
        self.mapping = mlp([noise, hidden, hidden, latent])
        # Drawn from the run's seeded generator; a buffer, so checkpoints and resumes keep it.
        self.register_buffer("noise_seed", torch.randint(2**31, ()))

    @property
    def imle_phase(self) -> bool:
        """Whether this epoch trains T (after ``glo_epochs`` epochs of GLO)."""
        return self.current_epoch >= self.glo_epochs

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """e ~ N(0, I), drawn on the CPU (where seeded generators live) and moved to the model."""
        return torch.randn(n, self.noise_size, generator=generator).to(self.device)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """G's pixel probabilities for codes ``z``."""
        return torch.sigmoid(self.generator(z))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples G(T(e))."""
        return self.decode(self.mapping(self.noise(n, generator)))

    def sampler(self) -> nn.Sequential:
        """G∘T with G's sigmoid: noise in, pixel probabilities out, standard layers only."""
        return nn.Sequential(*self.mapping, *self.generator, nn.Sigmoid())

    def glo_objective(self, x: torch.Tensor, index: torch.Tensor):
        """Mean reconstruction NLL of the batch from its own codes."""
        recon = reconstruction_nll(self.generator(self.codes[index]), x).mean()
        return recon, {"recon": recon}

    def imle_objective(self, index: torch.Tensor, batch_idx: int):
        """IMLE loss of the batch's (frozen) codes against ``imle_samples`` fresh samples T(e)."""
        seed = int(self.noise_seed) + BATCHES_PER_EPOCH * self.current_epoch + batch_idx
        generator = torch.Generator().manual_seed(seed)
        samples = self.mapping(self.noise(self.imle_samples, generator))
        loss, assignment = imle_loss(self.codes[index], samples)
        used = torch.unique(assignment).numel() / len(index)
        return loss, {"imle": loss, "distinct_nearest": torch.tensor(used, device=self.device)}

    def training_step(self, batch, batch_idx):
        x, _, index = batch
        if self.imle_phase:
            loss, parts = self.imle_objective(index, batch_idx)
        else:
            loss, parts = self.glo_objective(x, index)
        self.log_step("train", loss, parts, len(x))
        return loss

    def optimizer_step(self, *args, **kwargs):
        super().optimizer_step(*args, **kwargs)
        # After every step of GLO, tricks' wrappers included. IMLE leaves the codes alone, and a
        # projection is not idempotent in floating point (a norm just projected to 1 can read
        # 1 + 1 ulp), so they are not touched again: the codes G was trained on stay bit for bit.
        if not self.imle_phase:
            project_to_ball(self.codes.data)

    def validation_step(self, batch, batch_idx):
        # Held-out digits own no codes; the loss asks instead how near the sampler comes to each:
        # the squared distance to the nearest of a fixed pool of samples (IMLE's criterion, in
        # pixels).
        x = batch[0]
        pool = self.sample(POOL, latent_generator(2))
        distance = (pool[nearest(x, pool)] - x).pow(2).sum(1).mean()
        self.log_step("val", distance, {"nearest_sample": distance}, len(x))


class GLANNFamily(Family):
    """Builds, evaluates and exports GLANN."""

    def build(self, settings, info):
        examples = info.examples_to_keep("family glann keeps a code per training example")
        names = ("hidden", "latent", "noise", "glo_epochs", "imle_samples")
        inputs = int(np.prod(info.input_shape))
        return GLANNModule(inputs, examples, *(settings[name] for name in names))

    @torch.no_grad()
    def evaluate(self, module, data, out_dir):
        samples = module.sample(len(data.test.x), latent_generator()).numpy()
        metrics = sample_metrics(Judge(data), data, samples)
        metrics.update(code_fit(module, torch.from_numpy(data.train.x)))
        save_samples(data.test.x, samples, out_dir / "samples.png", "GLANN: samples G(T(e))")
        if is_image(samples.shape[1]):
            save_image_grid(
                np.concatenate([data.test.x[:50], samples[:50]]),
                out_dir / "real_and_samples.png",
                columns=10,
                title="GLANN: test digits (top five rows), samples G(T(e)) (bottom five)",
            )
            save_interpolations(
                module.decode,
                module.codes[:6],
                module.codes[6:12],
                out_dir / "interpolations.png",
                "GLANN: G on straight lines between training codes",
            )
        return metrics

    def export_target(self, module, data):
        return module.sampler().eval(), module.noise(256, latent_generator(1))


def code_fit(module: GLANNModule, train_x: torch.Tensor) -> dict[str, float]:
    """How well GLO reconstructs the training digits from their codes, and how near T's samples
    come to the codes (IMLE's criterion over a fixed pool)."""
    codes = module.codes
    logits = module.generator(codes)
    pool = module.mapping(module.noise(POOL * 10, latent_generator(3)))
    return {
        "train_recon": float(reconstruction_nll(logits, train_x).mean()),
        "train_recon_mse": float((torch.sigmoid(logits) - train_x).pow(2).mean()),
        "code_norm": float(codes.norm(dim=1).mean()),
        "code_nearest_sample": float((pool[nearest(codes, pool)] - codes).pow(2).sum(1).mean()),
    }
