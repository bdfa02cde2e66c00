"""Writes metric batches to an MLflow run from a background thread, so training never waits for
the store.

A write is a database transaction (or an HTTP request) of milliseconds; on small epochs one per
epoch cost several percent of the training. Here the training thread only enqueues. Points still in
the queue when the process is killed are not lost: the checkpoint keeps every epoch's metrics and a
resumed run writes the ones the store lacks
(:class:`pipeline.training.callbacks.history.EpochHistory`).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Sequence

BATCH_LIMIT = 1000  # MLflow's most metrics per log_batch


class BackgroundWriter:
    """Calls ``write(batch)`` for each submitted batch, in order, on one daemon thread."""

    def __init__(self, write: Callable[[Sequence[Any]], None]):
        self._write = write
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, points: Sequence[Any]) -> None:
        """Queue ``points`` for writing (in chunks MLflow accepts) and return at once."""
        if not points:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="mlflow-metrics", daemon=True)
            self._thread.start()
        for start in range(0, len(points), BATCH_LIMIT):
            self._queue.put(list(points[start : start + BATCH_LIMIT]))

    def wait(self) -> None:
        """Return once everything submitted is written; raise the first write's error, if any."""
        if self._thread is not None:
            self._queue.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _work(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if self._error is None:  # after a failure the rest waits for the back-fill
                    self._write(batch)
            except BaseException as error:  # handed to the training thread at wait()
                self._error = error
            finally:
                self._queue.task_done()
