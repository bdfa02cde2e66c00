"""How good codes are for a task they were not trained on: a linear probe and k-nearest neighbours,
beside the same on PCA of the pixels with as many dimensions and on a VAE's codes."""

from __future__ import annotations

import numpy as np

NEIGHBOURS = 5


def probe_accuracy(train: np.ndarray, y_train, test: np.ndarray, y_test) -> float:
    """Test accuracy of a logistic regression fitted on standardised training features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(probe.fit(train, y_train).score(test, y_test))


def knn_accuracy(train: np.ndarray, y_train, test: np.ndarray, y_test) -> float:
    """Test accuracy of a k-nearest-neighbour vote over standardised training features."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    knn = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=NEIGHBOURS))
    return float(knn.fit(train, y_train).score(test, y_test))


def probe_report(
    codes_train,
    codes_test,
    pixels_train,
    pixels_test,
    y_train,
    y_test,
    vae_train=None,
    vae_test=None,
) -> dict:
    """Probe and kNN accuracies of the codes, of PCA of the pixels with the codes' width and, when
    given, of a VAE's codes: the same two classifiers on the same split for each."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=codes_train.shape[1], random_state=0).fit(pixels_train)
    features = {
        "": (codes_train, codes_test),
        "pca_": (pca.transform(pixels_train), pca.transform(pixels_test)),
    }
    if vae_train is not None:
        features["vae_"] = (vae_train, vae_test)
    metrics = {}
    for prefix, (train, test) in features.items():
        metrics[f"{prefix}probe_accuracy"] = probe_accuracy(train, y_train, test, y_test)
        metrics[f"{prefix}knn_accuracy"] = knn_accuracy(train, y_train, test, y_test)
    return metrics
