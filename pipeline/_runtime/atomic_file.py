"""Writing a file in one step: filled beside its target, then renamed into place, so a reader (or a
kill, or a full disk) never finds it half-written."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Any, Callable

from pipeline.errors import PipelineError


def write_atomically(path: Path, write: Callable[[Path], Any]) -> None:
    """Have ``write`` fill a temporary file beside ``path``, then put it in place in one step. A
    failed write leaves ``path`` as it was and no temporary file; a full disk is one clear line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    try:
        write(tmp)
        tmp.replace(path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            free = shutil.disk_usage(path.parent).free
            raise PipelineError(
                f"no space left on the device holding {path.parent} ({free // 2**20} MiB free) "
                f"while writing {path.name}; free some space and rerun: {path} is as it was."
            ) from None
        raise
