"""The invertible ResNet family: maximum likelihood by the change of variables, against a Gaussian.

Training minimises −log p(x) = −log N(f(x)) − log|det J_f(x)| with the power-series log-det;
evaluation reports the held-out NLL (log-det exact in few dimensions) beside that of one
full-covariance Gaussian fitted to the training split, and draws samples f⁻¹(z), z ~ N(0, I).
"""

from __future__ import annotations

import numpy as np
import torch

from pipeline import Family
from plugins.generative.input_gradient import InputGradientModule
from plugins.generative.judge import Judge
from plugins.generative.report import (
    latent_generator,
    sample_metrics,
    save_field,
    save_samples,
)
from plugins.iresnet.flow import EXACT_DIMS, InvertibleResNet, standard_normal_logpdf

RIDGE = 1e-4  # added to the baseline's covariance: constant pixels would make it singular


class IResNetModule(InputGradientModule):
    """The flow f and its loss, the NLL in nats per example."""

    def __init__(self, inputs: int, hidden: int, blocks: int, coefficient: float, terms: int):
        super().__init__()
        self.terms = terms
        self.flow = InvertibleResNet(inputs, hidden, blocks, coefficient)

    def log_prob(self, x: torch.Tensor, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(x) per row with the power-series log-det, and that log-det."""
        z, logdet = self.flow.forward_logdet(x, self.terms, train)
        return standard_normal_logpdf(z) + logdet, logdet

    def objective(self, x: torch.Tensor, train: bool):
        """Mean NLL of a batch and its parts."""
        log_p, logdet = self.log_prob(x, train)
        return -log_p.mean(), {"logdet": logdet.mean()}

    def test_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) per row: log-det exact up to EXACT_DIMS dimensions, else the series estimate
        averaged over the fixed probes of a seeded generator."""
        with torch.inference_mode(False), torch.enable_grad():
            if x.shape[1] <= EXACT_DIMS:
                z = self.flow(x).detach()
                return (standard_normal_logpdf(z) + self.flow.exact_logdet(x)).detach()
            with torch.random.fork_rng():
                torch.manual_seed(0)
                return self.log_prob(x.clone(), train=False)[0].detach()


def gaussian_nll(train: np.ndarray, test: np.ndarray) -> float:
    """Mean NLL of ``test`` under one full-covariance Gaussian fitted to ``train`` (nats)."""
    from scipy.stats import multivariate_normal

    train, test = train.astype(np.float64), test.astype(np.float64)
    cov = np.cov(train, rowvar=False) + RIDGE * np.eye(train.shape[1])
    return float(-multivariate_normal(train.mean(0), cov).logpdf(test).mean())


class IResNetFamily(Family):
    """Builds, evaluates and exports the invertible ResNet (the forward flow f)."""

    export_formats = ("ONNX",)  # residual blocks are no Sequential for the Keras converter

    def build(self, settings, info):
        names = ("hidden", "blocks", "coefficient", "series_terms")
        return IResNetModule(int(np.prod(info.input_shape)), *(settings[n] for n in names))

    def evaluate(self, module, data, out_dir):
        x = torch.from_numpy(data.test.x)
        z = torch.randn(len(x), x.shape[1], generator=latent_generator())
        samples = module.flow.inverse(z).clamp(0, 1).numpy()
        metrics = sample_metrics(Judge(data), data, samples)
        metrics["nll"] = float(-module.test_log_prob(x).mean())
        metrics["gaussian_nll"] = gaussian_nll(data.train.x, data.test.x)
        with torch.no_grad():
            back = module.flow.inverse(module.flow(x))
        metrics["inverse_error"] = float((back - x).abs().max())
        save_samples(data.test.x, samples, out_dir / "samples.png", "i-ResNet: samples f⁻¹(z)")
        if x.shape[1] == 2:
            save_field(
                lambda points: module.test_log_prob(points).exp().numpy(),
                data.test.x,
                samples,
                out_dir / "density.png",
                "i-ResNet: density and samples f⁻¹(z)",
                "p(x)",
                "magma",
            )
        return metrics

    def export_target(self, module, data):
        return module.flow.plain(), torch.from_numpy(data.test.x[:256])
