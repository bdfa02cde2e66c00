"""The clustering VAE family: cluster accuracy against KMeans on raw pixels, cluster pictures,
decoder export."""

from __future__ import annotations

import numpy as np
import torch

from pipeline import Family, save_image_grid
from plugins.cluster_vae.module import ClusterVAEModule
from plugins.generative.report import is_image, latent_generator
from plugins.generative.vae_report import decoder_export, vae_report


class ClusterVAEFamily(Family):
    """Builds, evaluates and exports the clustering VAE."""

    def build(self, settings, info):
        return ClusterVAEModule(
            int(np.prod(info.input_shape)),
            settings["hidden"],
            settings["latent"],
            settings["clusters"],
            settings["recon_weight"],
            settings["kmeans_start"],
        )

    @torch.no_grad()
    def evaluate(self, module, data, out_dir):
        from sklearn.cluster import KMeans
        from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

        k = module.cluster_means.shape[0]
        generator = latent_generator()
        prior_clusters = torch.randint(0, k, (len(data.test.x),), generator=generator)
        metrics, _ = vae_report(
            module,
            data,
            out_dir,
            module.sample_latents(prior_clusters, generator),
            "Clustering VAE",
        )
        train_clusters = module.assign(torch.from_numpy(data.train.x)).numpy()
        test_clusters = module.assign(torch.from_numpy(data.test.x)).numpy()
        metrics["cluster_accuracy"] = majority_accuracy(
            train_clusters, data.train.y, test_clusters, data.test.y
        )
        kmeans = KMeans(n_clusters=k, n_init=10, random_state=0).fit(data.train.x)
        kmeans_test = kmeans.predict(data.test.x)
        metrics["kmeans_accuracy"] = majority_accuracy(
            kmeans.labels_, data.train.y, kmeans_test, data.test.y
        )
        metrics["clusters_used"] = float(len(np.unique(test_clusters)))
        # Label-free agreement scores, for comparison with the clustering literature.
        metrics["nmi"] = normalized_mutual_info_score(data.test.y, test_clusters)
        metrics["ari"] = adjusted_rand_score(data.test.y, test_clusters)
        metrics["kmeans_nmi"] = normalized_mutual_info_score(data.test.y, kmeans_test)
        metrics["kmeans_ari"] = adjusted_rand_score(data.test.y, kmeans_test)
        if is_image(data.test.x.shape[1]):
            rows = torch.arange(k).repeat_interleave(10)
            save_image_grid(
                module.decode(module.sample_latents(rows, generator)).numpy(),
                out_dir / "cluster_samples.png",
                columns=10,
                title="Clustering VAE: row k holds samples from mixture component k",
            )
            save_image_grid(
                cluster_members(data.test.x, test_clusters, k),
                out_dir / "cluster_members.png",
                columns=10,
                title="Clustering VAE: row k holds test digits assigned to cluster k",
            )
        return metrics

    def export_target(self, module, data):
        return decoder_export(module, data)


def majority_accuracy(fit_clusters, fit_labels, clusters, labels) -> float:
    """Accuracy after naming each cluster by the majority label of its members in the fitting
    split."""
    names = {
        c: np.bincount(fit_labels[fit_clusters == c]).argmax() for c in np.unique(fit_clusters)
    }
    # A cluster empty in the fitting split has no name; its members count as wrong.
    predicted = np.array([names.get(c, -1) for c in clusters])
    return float((predicted == labels).mean())


def cluster_members(x: np.ndarray, clusters: np.ndarray, k: int, per_row: int = 10) -> np.ndarray:
    """Up to ``per_row`` members of each cluster, blank cells where a cluster has fewer."""
    grid = np.zeros((k * per_row, x.shape[1]), dtype=np.float32)
    for cluster in range(k):
        members = x[clusters == cluster][:per_row]
        grid[cluster * per_row : cluster * per_row + len(members)] = members
    return grid
