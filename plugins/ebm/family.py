"""The energy-based model: an MLP energy E(x), p(x) ∝ exp(−E(x)), trained by contrastive divergence.

The loss E(real) − E(samples) lowers the energy of data and raises it where the model's own Langevin
samples lie; its gradient is that of the negative log-likelihood up to the samples' bias. A small
penalty α·(E(real)² + E(samples)²) keeps the energies near zero, which the loss alone leaves free.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pipeline import Family
from plugins.ebm.langevin import langevin, restart_mask
from plugins.generative.input_gradient import InputGradientModule
from plugins.generative.judge import Judge
from plugins.generative.nets import mlp
from plugins.generative.report import (
    latent_generator,
    sample_metrics,
    save_field,
    save_samples,
)

BOX = (0.0, 1.0)  # pipeline data lie in [0, 1]; chains are kept there


class EBMModule(InputGradientModule):
    """Energy network x → E(x) (one ELU MLP) and a replay buffer of persistent Langevin chains."""

    def __init__(self, inputs, hidden, steps, step, buffer, fresh, energy_l2, sample_steps):
        super().__init__()
        self.steps, self.step, self.fresh = steps, step, fresh
        self.energy_l2, self.sample_steps = energy_l2, sample_steps
        self.net = mlp([inputs, hidden, hidden, 1], nn.ELU)
        # A buffer, not a parameter: the chains are checkpointed and resumed with the weights.
        self.register_buffer("replay", torch.rand(buffer, inputs))

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """E(x), one value per row."""
        return self.net(x)[:, 0]

    def negatives(self, n: int, keep: bool) -> torch.Tensor:
        """Continue ``n`` chains of the buffer (a ``fresh`` share restarted from uniform noise) by
        ``steps`` Langevin steps; ``keep`` writes them back."""
        index = torch.randint(len(self.replay), (n,), device=self.device)
        start = self.replay[index].clone()
        restart = restart_mask(n, self.fresh, self.device)
        start[restart] = torch.rand_like(start[restart])
        samples = langevin(self.energy, start, self.steps, self.step, BOX)
        if keep:
            self.replay[index] = samples
        return samples

    def objective(self, real: torch.Tensor, train: bool):
        """The contrastive-divergence loss of a batch and its parts; training moves the chains."""
        samples = self.negatives(len(real), keep=train)
        e_real, e_fake = self.energy(real), self.energy(samples)
        gap = e_real.mean() - e_fake.mean()
        penalty = (e_real.pow(2) + e_fake.pow(2)).mean()
        return gap + self.energy_l2 * penalty, {"e_real": e_real.mean(), "e_fake": e_fake.mean()}

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` samples: chains started from uniform noise, run ``sample_steps`` steps."""
        start = torch.rand(n, self.replay.shape[1], generator=generator)
        with torch.inference_mode(False), torch.enable_grad():
            return langevin(self.energy, start, self.sample_steps, self.step, BOX, generator)


class EBMFamily(Family):
    """Builds, evaluates and exports the energy-based model."""

    def build(self, settings, info):
        names = ("hidden", "steps", "step", "buffer", "fresh", "energy_l2", "sample_steps")
        return EBMModule(int(np.prod(info.input_shape)), *(settings[name] for name in names))

    def evaluate(self, module, data, out_dir):
        samples = module.sample(len(data.test.x), latent_generator()).numpy()
        metrics = sample_metrics(Judge(data), data, samples)
        with torch.no_grad():
            real = torch.from_numpy(data.test.x)
            metrics["test_energy"] = float(module.energy(real).mean())
            metrics["sample_energy"] = float(module.energy(torch.from_numpy(samples)).mean())
        save_samples(data.test.x, samples, out_dir / "samples.png", "EBM: Langevin samples")
        if samples.shape[1] == 2:
            save_field(
                lambda points: module.energy(points).detach().numpy(),
                data.test.x,
                samples,
                out_dir / "energy.png",
                "EBM: energy landscape and Langevin samples",
                "E(x)",
                "viridis",
            )
        return metrics

    def export_target(self, module, data):
        return module.net.eval(), torch.from_numpy(data.test.x[:256])
