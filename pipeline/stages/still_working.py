"""A line now and then while a stage works for long in silence: a generative family's evaluate on
real data trains its judge and runs KMeans for minutes with nothing else on screen."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

from pipeline._runtime.duration import duration


@contextlib.contextmanager
def still_working(stage: str, first: float = 15.0, every: float = 60.0) -> Iterator[None]:
    """Print ``<stage>: still working (<time>)`` after ``first`` seconds of the block, then every
    ``every`` seconds, until it ends."""
    started, done = time.monotonic(), threading.Event()

    def tell() -> None:
        wait = first
        while not done.wait(wait):
            print(f"{stage}: still working ({duration(time.monotonic() - started)})", flush=True)
            wait = every

    teller = threading.Thread(target=tell, name=f"{stage}-still-working", daemon=True)
    teller.start()
    try:
        yield
    finally:
        done.set()
        teller.join()
