"""A complete third-party plugin: model family ``logistic`` and dataset ``blobs``."""

from pipeline import DatasetSpec, FamilySpec, Setting, hookimpl


@hookimpl
def pipeline_families():
    # A lazy reference: torch is imported only when a stage runs and calls spec.load().
    return [FamilySpec("logistic", "softmax regression", "pipeline_logistic.family:LogisticFamily")]


@hookimpl
def pipeline_datasets():
    return [
        DatasetSpec(
            "blobs",
            "three Gaussian blobs in 4-D",
            "pipeline_logistic.blobs:load_blobs",
            {"samples": Setting(600, "examples to generate", low=30)},
        )
    ]
