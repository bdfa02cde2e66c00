"""The one exception type for mistakes a user can make: the CLI prints its message and exits
non-zero."""


class PipelineError(Exception):
    """A user-facing error: one sentence naming the bad value and what would be valid."""


# Errors of the machine rather than of the pipeline or its input: a failing disk or mount, a full
# or read-only file system, a permission taken away. The CLI reports them in one line; any other
# OSError (a missing file, say) is a defect and keeps its traceback.
MACHINE_ERRNOS = frozenset(
    {"EIO", "ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "ESTALE", "ENXIO", "ENOMEM", "EMFILE"}
)


def machine_error(error: BaseException) -> str | None:
    """One line for an OSError of the machine (:data:`MACHINE_ERRNOS`), or None for any other
    error."""
    import errno
    import os

    if not isinstance(error, OSError) or errno.errorcode.get(error.errno) not in MACHINE_ERRNOS:
        return None
    code = errno.errorcode[error.errno]
    where = f" on {os.fspath(error.filename)}" if error.filename is not None else ""
    return (
        f"{error.strerror or code} ({code}){where}; check the disk and its free space, then "
        "rerun: finished results are kept."
    )
