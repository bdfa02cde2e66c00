"""Dataset ``spiral``, which needs a library that is not installed: importing this module fails."""

import pipeline_spiral_generator  # noqa: F401  (deliberately missing)

from pipeline import DatasetSpec, hookimpl


@hookimpl
def pipeline_datasets():
    return [DatasetSpec("spiral", "two interleaved spirals", pipeline_spiral_generator.load)]
