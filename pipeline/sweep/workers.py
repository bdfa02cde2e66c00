"""Local worker processes: the command's own process is worker 0, the others are spawned at once.

They import what a run needs while the command checks its input, then each runs the same worker
function a worker on another machine runs against the same storage: the storage is all they share.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from typing import Any, Callable

from pipeline._runtime.gc_pause import import_all
from pipeline.errors import PipelineError

INTERRUPTED = 130  # a worker's exit code after Ctrl-C or SIGTERM, as a shell reports SIGINT
WORKER_IMPORTS = ("lightning.pytorch", "mlflow.store.tracking.sqlalchemy_store")  # a run's, early
Job = Callable[[Any, int], int]  # a module-level function (it pickles by name): (shared, index)


class Workers:
    """The local workers after the first (this process): they import while the checks run."""

    def __init__(self, count: int):
        context = multiprocessing.get_context("spawn")  # not forked: torch's threads may run
        self.children, self.outboxes = [], []
        for index in range(1, count):
            inbox, outbox = context.Pipe(duplex=False)
            self.children.append(context.Process(target=worker_process, args=(index, inbox)))
            self.outboxes.append(outbox)
            self.children[-1].start()

    def run(self, job: Job, shared: Any) -> list[int]:
        """Run ``job(shared, index)`` here as worker 0 and in each child; return every worker's
        exit code."""
        for outbox in self.outboxes:
            outbox.send((job, shared))
        own = None  # stays None when worker 0 fails: the others are stopped, the error raised
        try:
            own = job(shared, 0)
        except (KeyboardInterrupt, SystemExit):
            own = INTERRUPTED
        finally:  # Ctrl-C reached the children too; a terminated sweep or an error stops them
            self.stop(terminate=own in (None, INTERRUPTED))
        return [own, *(child.exitcode for child in self.children)]

    def stop(self, terminate: bool = True) -> None:
        """Wait for each child, after asking it to end its trial as interrupted (SIGTERM)."""
        for child in self.children:
            if terminate:
                child.terminate()
            child.join()


def worker_process(index: int, inbox) -> None:
    """A local worker process: exit 0 done, 130 interrupted, 2 user error, 1 crash."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # ends a trial as Ctrl-C does
    try:
        import_all(WORKER_IMPORTS)
        job, shared = inbox.recv()
        code = job(shared, index)
    except PipelineError as error:
        print(f"error: worker {index}: {error}", file=sys.stderr)
        code = 2
    except (KeyboardInterrupt, EOFError):  # EOFError: the command ended before sending the sweep
        code = INTERRUPTED
    sys.exit(code)
