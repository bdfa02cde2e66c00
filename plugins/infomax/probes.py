"""How good codes are for a task they were not trained on: a linear probe and k-nearest neighbours,
beside the same on PCA of the pixels with as many dimensions."""

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


def probe_report(codes_train, codes_test, pixels_train, pixels_test, y_train, y_test) -> dict:
    """Probe and kNN accuracies of the codes and of PCA of the pixels with the codes' width."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=codes_train.shape[1], random_state=0).fit(pixels_train)
    pca_train, pca_test = pca.transform(pixels_train), pca.transform(pixels_test)
    return {
        "probe_accuracy": probe_accuracy(codes_train, y_train, codes_test, y_test),
        "pca_probe_accuracy": probe_accuracy(pca_train, y_train, pca_test, y_test),
        "knn_accuracy": knn_accuracy(codes_train, y_train, codes_test, y_test),
        "pca_knn_accuracy": knn_accuracy(pca_train, y_train, pca_test, y_test),
    }
