"""Replacing a folder in one step, so a reader (or a kill) never finds it missing or
half-written."""

from __future__ import annotations

import ctypes
import os
import shutil
from pathlib import Path

_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux's renameat2(RENAME_EXCHANGE); False where
    unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def replace_dir(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target``, removing what was there; ``target`` is never absent in
    between
    where the system can swap two folders in one call (Linux), else absent for one rename."""
    if target.is_dir() and _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old contents
        return
    old = target.parent / f".{target.name}-old-{os.getpid()}.tmp"
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def recover_dir(target: Path) -> None:
    """Put back a folder that a kill between the two renames of :func:`replace_dir` left aside."""
    if target.exists():
        return
    for old in sorted(target.parent.glob(f".{target.name}-old-*.tmp")):
        old.rename(target)
        return
