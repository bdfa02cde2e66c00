"""Model family ``classifier``: the series' opening example, Dense(100, relu) → Dense(10, softmax)."""
from __future__ import annotations

from pipeline import FamilySpec, Setting, hookimpl

SETTINGS = {"hidden": Setting(100, "units of the hidden ReLU layer", low=1)}


def _load():
    from plugins.classifier.family import ClassifierFamily

    return ClassifierFamily()


@hookimpl
def pipeline_families() -> list[FamilySpec]:
    return [FamilySpec("classifier", "MLP classifier: Dense(hidden, relu) -> Dense(classes, softmax)", _load, SETTINGS)]
