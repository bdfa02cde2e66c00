"""Fault injection for the tests, never for users: Python imports this module at start-up in every
process started with ``tests/faults`` on ``PYTHONPATH``, and it acts only in a stage that DVC runs
(``DVC_STAGE`` set) when ``PIPELINE_FAULTS`` asks it to.

The failure points of a stage are, in the order the stage reaches them: every file it opens for
writing and every rename (``os.replace``, ``os.rename``) under the project, and every call to the
MLflow tracking store (``TrackingServiceClient``'s methods). ``PIPELINE_FAULTS`` is either

- ``count:<file>``: append one line per point, ``<stage> <n> <kind> <detail>``, to ``<file>``;
- ``inject:<stage>:<n>:<mode>``: at point ``n`` of ``<stage>``, fail once, as ``<mode>`` says:
  ``enospc`` or ``eio`` (an ``OSError`` from the write or rename), ``refused`` (the tracking store
  refuses the connection), ``sigterm`` or ``sigkill`` (the process receives that signal there).
"""

from __future__ import annotations

import builtins
import errno
import importlib.abc
import importlib.util
import io
import os
import signal
import sys

SPEC = os.environ.get("PIPELINE_FAULTS", "")
STAGE = os.environ.get("DVC_STAGE")
ROOT = os.path.realpath(os.environ.get("DVC_ROOT", os.getcwd()))
TRACKING_CLIENT = "mlflow.tracking._tracking_service.client"
WRITING = set("wax+")


class Points:
    """This process's failure points, counted as they are reached."""

    def __init__(self, spec: str):
        self.reached, self.busy, self.fired = 0, False, False
        self.log = self.target = None
        if spec.startswith("count:"):
            self.log = spec[len("count:") :]
        else:
            _, stage, number, self.mode = spec.split(":")
            self.target = int(number) if stage == STAGE else None

    def reach(self, kind: str, detail: str) -> None:
        if self.busy or self.fired:
            return
        self.busy = True
        try:
            self.reached += 1
            if self.log:
                with ORIGINAL_OPEN(self.log, "a") as log:
                    log.write(f"{STAGE} {self.reached} {kind} {detail}\n")
            elif self.reached == self.target:
                self.fired = True
                fail(self.mode, kind, detail)
        finally:
            self.busy = False


def fail(mode: str, kind: str, detail: str) -> None:
    """Fail as ``mode`` says, at a point of ``kind``."""
    if mode == "sigterm":
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs before the call below
    elif mode == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif mode == "refused" and kind == "tracking":
        from mlflow.exceptions import MlflowException

        raise MlflowException(
            f"API request to {detail} failed with exception ConnectionError: [Errno 111] "
            "Connection refused"
        )
    elif mode in ("enospc", "eio") and kind != "tracking":
        code = errno.ENOSPC if mode == "enospc" else errno.EIO
        raise OSError(code, os.strerror(code), detail)


def inside(path) -> bool:
    try:
        return os.path.realpath(os.fspath(path)).startswith(ROOT + os.sep)
    except TypeError:  # a file descriptor
        return False


def opening(file, mode="r", *args, **kwargs):
    if isinstance(mode, str) and WRITING & set(mode) and inside(file):
        POINTS.reach("write", os.path.relpath(os.path.realpath(os.fspath(file)), ROOT))
    return ORIGINAL_OPEN(file, mode, *args, **kwargs)


def renaming(original):
    def rename(source, target, *args, **kwargs):
        if inside(target):
            POINTS.reach("rename", os.path.relpath(os.path.realpath(os.fspath(target)), ROOT))
        return original(source, target, *args, **kwargs)

    return rename


def calling(name, method):
    def call(self, *args, **kwargs):
        POINTS.reach("tracking", name)
        return method(self, *args, **kwargs)

    return call


class TrackingHook(importlib.abc.MetaPathFinder):
    """Wraps the tracking client's public methods once MLflow imports it."""

    def find_spec(self, name, path, target=None):
        if name != TRACKING_CLIENT:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            client = module.TrackingServiceClient
            for attr, value in list(vars(client).items()):
                if callable(value) and not attr.startswith("_"):
                    setattr(client, attr, calling(attr, value))

        spec.loader.exec_module = exec_module
        return spec


ORIGINAL_OPEN = builtins.open
if SPEC and STAGE:
    POINTS = Points(SPEC)
    builtins.open = io.open = opening
    os.replace, os.rename = renaming(os.replace), renaming(os.rename)
    sys.meta_path.insert(0, TrackingHook())
