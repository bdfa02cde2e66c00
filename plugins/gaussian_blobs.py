"""Dataset ``gaussian_blobs``: generated Gaussian blobs of any size, streamed one example at a time.

Examples are drawn in chunks of 1,024, each from a generator seeded with (seed, chunk start), so
the data never needs to fit in memory and the same settings always give the same examples. Class
``c``'s centre is a fixed random point; an example is its class centre plus Gaussian noise, clipped
to [0, 1]. It exists to try and measure the streaming path: ``examples`` and ``features`` set its
size (``examples * features * 4`` bytes).
"""

from __future__ import annotations

from pipeline import Stream


def stream_blobs(settings) -> Stream:
    """The examples of the settings' size, one at a time."""
    return Stream(_examples(settings), fingerprint=f"gaussian_blobs seed {settings['seed']}")


CHUNK = 1024  # examples drawn per generator call


def _examples(settings):
    import numpy as np

    features, classes, spread = settings["features"], settings["classes"], settings["spread"]
    centres = np.random.default_rng([settings["seed"], 2**31]).random((classes, features))
    centres = centres.astype(np.float32)
    for start in range(0, settings["examples"], CHUNK):
        rows = min(CHUNK, settings["examples"] - start)
        rng = np.random.default_rng([settings["seed"], start])
        labels = rng.integers(classes, size=rows)
        noise = rng.standard_normal((rows, features), dtype=np.float32) * np.float32(spread)
        x = np.clip(centres[labels] + noise, 0, 1)
        for offset in range(rows):
            yield str(start + offset), x[offset], int(labels[offset])
