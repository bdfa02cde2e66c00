"""The one exception type for mistakes a user can make: the CLI prints its message and exits
non-zero, as it does for the other failures described here."""

from __future__ import annotations

from dataclasses import dataclass


class PipelineError(Exception):
    """A user-facing error: one sentence naming the bad value and what would be valid."""


@dataclass(frozen=True)
class Failure:
    """How the CLI reports an error that is not the pipeline's own: one line and an exit code."""

    line: str
    exit_code: int = 2


# Errors of the machine rather than of the pipeline or its input: a failing disk or mount, a full
# or read-only file system, a permission taken away. The CLI reports them in one line; any other
# OSError (a missing file, say) is a defect and keeps its traceback.
MACHINE_ERRNOS = frozenset(
    {"EIO", "ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "ESTALE", "ENXIO", "ENOMEM", "EMFILE"}
)
KEPT = "the last good results are kept"


def machine_error(error: BaseException) -> Failure | None:
    """One line for an OSError of the machine (:data:`MACHINE_ERRNOS`), or None."""
    import errno
    import os

    if not isinstance(error, OSError) or errno.errorcode.get(error.errno) not in MACHINE_ERRNOS:
        return None
    code = errno.errorcode[error.errno]
    where = f" on {os.fspath(error.filename)}" if error.filename is not None else ""
    return Failure(
        f"{error.strerror or code} ({code}){where}; {KEPT}: check the disk and its free space, "
        "then rerun."
    )


def store_error(error: BaseException) -> Failure | None:
    """One line for a tracking store that stopped answering (an MLflow or HTTP client error raised
    outside the places that already say so), or None."""
    names = {cls.__name__ for cls in type(error).__mro__}
    modules = {cls.__module__.split(".")[0] for cls in type(error).__mro__}
    if "MlflowException" not in names and not ({"requests", "urllib3"} & modules):
        return None
    import os

    store = os.environ.get("MLFLOW_TRACKING_URI") or "./mlflow.db"
    reason = " ".join(str(error).split())[:200] or type(error).__name__
    return Failure(
        f"the tracking store {store} failed ({reason}); {KEPT}: rerun once it answers, and a "
        "finished training is recorded without training again."
    )


def stop_signal(error: BaseException) -> Failure | None:
    """One line for a run stopped by Ctrl-C or a termination signal, or None."""
    import signal

    if isinstance(error, KeyboardInterrupt):
        return Failure(f"interrupted (Ctrl-C); {KEPT}: rerun to resume.", 128 + signal.SIGINT)
    if isinstance(error, SystemExit) and error.code == 128 + signal.SIGTERM:
        return Failure(f"stopped by a termination signal (SIGTERM); {KEPT}: rerun to resume.", 143)
    return None
