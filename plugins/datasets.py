"""The built-in datasets: every one and its settings, in one table.

Registered by entry point exactly as a third-party dataset package is. Each spec's ``load`` (and
``sources``) is a lazy ``"module:function"`` reference, imported when a stage reads the data.
"""

from __future__ import annotations

from pipeline import DatasetSpec, Setting, hookimpl

DATASETS = [
    DatasetSpec(
        "digits",
        "8x8 handwritten digits shipped with scikit-learn",
        load="plugins.digits:load_digits_arrays",
    ),
    DatasetSpec(
        "idx",
        "MNIST-format IDX files from data.path",
        load="plugins.idx:load_idx_arrays",
        sources="plugins.idx:idx_sources",
        settings={
            "path": Setting(
                None,
                "folder with the IDX files",
                kinds=(str,),
                nullable=True,
                expect="a folder path (string)",
            )
        },
    ),
    DatasetSpec(
        "gaussian_mixture",
        "generated 1-D/2-D Gaussian mixture; labels are the components",
        load="plugins.mixtures:load_mixture",
        settings={
            "dims": Setting(2, "1 for components along a line, 2 for a ring", choices=(1, 2)),
            "components": Setting(8, "number of Gaussian components (modes)", low=1, high=64),
            "examples": Setting(3000, "points to generate", low=10),
            "std": Setting(
                0.02, "standard deviation of each component", low=0, low_open=True, high=0.2
            ),
            "seed": Setting(0, "seed of the generator (the split uses the global seed)", low=0),
        },
    ),
]


@hookimpl
def pipeline_datasets() -> list[DatasetSpec]:
    """Every built-in dataset."""
    return list(DATASETS)
