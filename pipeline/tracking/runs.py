"""MLflow bookkeeping: one run per pipeline execution, opened by train and extended by later stages.

The store is ``$MLFLOW_TRACKING_URI`` when set (a team server), else ``sqlite:///mlflow.db`` at the
project root, which ``mlflow ui`` run from the root opens; ``dvc exp run --queue`` and ``--temp``
record there too, not in their temporary copy. Only global rank 0 touches MLflow, so a DDP job
records one run.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Mapping

from pipeline.errors import PipelineError

REACH_TIMEOUT_S = 5.0
# An unreachable server fails a call in seconds instead of MLflow's default minutes of retries.
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def tracking_uri(root: Path) -> str:
    """The MLflow store this project writes to: the user's repository's, also from the temporary
    copy a queued DVC experiment runs in."""
    from pipeline.paths import repository

    store = repository(root).resolve() / "mlflow.db"
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{store}"


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:`` URI (``sqlite:///relative.db``, ``sqlite:////abs.db``)."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme.split("+")[0] != "sqlite" or not parsed.path[1:]:
        return None
    return Path(parsed.path[1:])


@contextlib.contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Hold a lock on a SQLite store's file while opening it: MLflow creates a new store's tables
    with migrations that fail when two processes run them at once (``dvc queue start -j 2``)."""
    import fcntl

    database = _sqlite_file(uri)
    if database is None:
        yield
        return
    with open(database, "ab") as handle:  # flock is independent of SQLite's own locks
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def artifact_location(uri: str) -> str | None:
    """Where a new experiment of a SQLite store keeps artifacts: ``mlruns/`` beside the store
    (MLflow's default is relative to the working folder, a temporary copy under DVC's queue)."""
    database = _sqlite_file(uri)
    return None if database is None else (database.resolve().parent / "mlruns").as_uri()


_WARNED: set[str] = set()  # the artifact folders already warned about in this process


def warn_if_artifacts_elsewhere(uri: str, experiment: str, location: str) -> None:
    """Say once, in one line, when an experiment of the project's own SQLite store keeps its
    artifacts in a folder outside the project: the project was copied or moved, and MLflow keeps
    an experiment's folder for good, so the copy's runs would write into the original's."""
    own = artifact_location(uri)
    if own is None or location in _WARNED:
        return
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme not in ("", "file"):
        return  # a remote artifact store is meant to be shared
    folder = Path(urllib.parse.unquote(parsed.path)).resolve()
    if folder.is_relative_to(Path(urllib.parse.unquote(urllib.parse.urlparse(own).path))):
        return
    _WARNED.add(location)
    print(
        f"warning: MLflow experiment '{experiment}' keeps its runs' files in {folder}, outside "
        "this project (copied or moved from there?), and goes on writing there; set "
        "tracking.experiment to a new name to keep them in this project's mlruns/.",
        file=sys.stderr,
    )


def is_rank_zero() -> bool:
    """True in the process that records runs (the only process outside distributed training, and
    in a process without Lightning, which trains nothing)."""
    rank_zero = sys.modules.get("lightning.fabric.utilities.rank_zero")
    return rank_zero is None or rank_zero.rank_zero_only.rank == 0


def check_reachable(uri: str) -> None:
    """Refuse, in seconds and in one line, a tracking store that cannot be reached (before any run
    starts)."""
    parsed = urllib.parse.urlparse(uri)
    where = (
        f"MLFLOW_TRACKING_URI = {uri}"
        if os.environ.get("MLFLOW_TRACKING_URI")
        else f"the MLflow store {uri}"
    )
    advice = (
        "start the server, fix the URI, or unset MLFLOW_TRACKING_URI to record into ./mlflow.db"
    )
    if parsed.scheme in ("http", "https"):
        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=REACH_TIMEOUT_S).close()
        except urllib.error.HTTPError as error:
            if error.code in (502, 503, 504):  # a gateway answered for a server that is down
                raise PipelineError(
                    f"{where} is unreachable (HTTP {error.code} {error.reason}); {advice}."
                ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise PipelineError(f"{where} is unreachable ({reason}); {advice}.") from None
        check_credentials(uri, where)
    elif (database := _sqlite_file(uri)) is not None:
        folder = database.parent
        if not folder.is_dir():
            raise PipelineError(
                f"{where} lies in {folder}, which does not exist; create the folder or fix the URI."
            )
    elif parsed.hostname and parsed.scheme not in ("databricks", "file"):
        try:  # a database server (postgresql://, mysql://…): is anything listening?
            socket.create_connection(
                (parsed.hostname, parsed.port or _default_port(parsed.scheme)), REACH_TIMEOUT_S
            ).close()
        except OSError as error:
            raise PipelineError(
                f"{where} is unreachable ({error.strerror or error}); {advice}."
            ) from None


def check_credentials(uri: str, where: str) -> None:
    """Refuse in one line a tracking server that turns these credentials (or none) away, or that
    is not an MLflow server at all (another web service answering at that address).

    A server behind MLflow's basic-auth app answers ``/health`` to anyone; an API call shows
    whether ``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD`` let this client in.
    """
    import base64

    request = urllib.request.Request(
        uri.rstrip("/") + "/api/2.0/mlflow/experiments/search?max_results=1"
    )
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user is not None:
        secret = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(secret).decode())
    try:
        with urllib.request.urlopen(request, timeout=REACH_TIMEOUT_S) as answer:
            body = answer.read(1 << 20)
    except urllib.error.HTTPError as error:
        if error.code == 401:
            given = f"user {user!r} is refused" if user is not None else "it asks for credentials"
            raise PipelineError(
                f"{where} requires a login and {given}; set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD to an account of that server."
            ) from None
        if error.code == 403:
            raise PipelineError(
                f"{where} lets user {user!r} in but not read experiments; ask its admin for "
                "permission."
            ) from None
        if error.code < 500:  # 404, 405...: something answers HTTP there, but not MLflow's API
            raise PipelineError(
                f"{where} answers HTTP but is not an MLflow tracking server (its experiments API "
                f"gave HTTP {error.code} {error.reason}); {NOT_MLFLOW_ADVICE}."
            ) from None
        return  # a server error: MLflow's own client retries and reports it
    except (urllib.error.URLError, OSError):
        return  # /health answered a moment ago; MLflow's own client reports anything further
    if not _is_json_object(body):
        raise PipelineError(
            f"{where} answers HTTP but is not an MLflow tracking server (its experiments API "
            f"did not answer in JSON); {NOT_MLFLOW_ADVICE}."
        )


NOT_MLFLOW_ADVICE = "point MLFLOW_TRACKING_URI at the `mlflow server` address, or unset it"


def _is_json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False


HOST_TAG, PID_TAG = "pipeline.host", "pipeline.pid"
FAILED_STAGE_TAG = "pipeline.failed_stage"  # a later stage's failure on a good, finished run


def _one_line(error: BaseException, limit: int = 500) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


RUN_NAME_TAG = "mlflow.runName"
# The UI opens an experiment of this kind in its model-training view rather than the GenAI one.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
# What DVC tells a stage of `dvc exp run` (DVC_EXP_NAME, DVC_EXP_BASELINE_REV), as run tags.
_DVC_TAGS = {"DVC_EXP_NAME": "dvc.exp_name", "DVC_EXP_BASELINE_REV": "dvc.baseline_rev"}


def default_run_name(family: str) -> str:
    """A readable, distinct name: ``<family>-<DVC experiment>`` under ``dvc exp run``, else
    ``<family>-<month><day>-<time>``."""
    return f"{family}-{os.environ.get('DVC_EXP_NAME') or time.strftime('%m%d-%H%M%S')}"


def source_tags() -> dict[str, str]:
    """MLflow's own Source and User columns, and the DVC experiment the run belongs to."""
    tags = {
        "mlflow.source.name": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "mlflow.source.type": "LOCAL",
    }
    try:
        tags["mlflow.user"] = getpass.getuser()
    except (OSError, KeyError):  # no login name (a container's anonymous uid)
        pass
    tags.update({tag: os.environ[var] for var, tag in _DVC_TAGS.items() if os.environ.get(var)})
    return tags


def _owner_tags() -> dict[str, str]:
    """Which process works on a run, so a later command can tell that it died and close the run."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _default_port(scheme: str) -> int:
    base = scheme.split("+")[0]
    return {"postgresql": 5432, "postgres": 5432, "mysql": 3306, "mssql": 1433}.get(base, 443)


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``; empty mappings are kept as ``{}`` so switched-off
    sections show."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def git_commit(root: Path) -> str | None:
    """The commit checked out at ``root``, or None outside a git work tree."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


class Tracker:
    """A thin face over MlflowClient for the calls the stages make."""

    def __init__(self, root: Path):
        from pipeline._runtime.gc_pause import paused

        with paused():  # MLflow's import builds ~300,000 objects that live until exit
            import mlflow
            from mlflow.tracking import MlflowClient

        for key, value in _HTTP_DEFAULTS.items():
            os.environ.setdefault(key, value)
        self.root = Path(root)
        self.uri = tracking_uri(root)
        exported = os.environ.get("MLFLOW_TRACKING_URI")
        mlflow.set_tracking_uri(self.uri)
        if exported is None:  # MLflow exports the URI, where a later project of this process
            os.environ.pop("MLFLOW_TRACKING_URI", None)  # (a notebook, a test) would take it
        with _store_lock(self.uri):
            self.client = MlflowClient(self.uri)  # creates a new store's tables

    def create_run(
        self,
        experiment: str,
        params: Mapping[str, Any],
        run_name: str | None = None,
        parent_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Open a new RUNNING run with flattened params, the git commit and the source tags
        (``tags`` override them); return its id."""
        experiment_id = self.experiment_id(experiment)
        self._close_dead_runs(experiment_id)
        all_tags = {**source_tags(), **(tags or {}), **_owner_tags()}
        commit = git_commit(self.root)
        if commit:
            all_tags["mlflow.source.git.commit"] = commit
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        run_id = self.client.create_run(experiment_id, run_name=run_name, tags=all_tags).info.run_id
        self.log_params(run_id, params)
        return run_id

    def experiment_id(self, name: str) -> str:
        """The experiment called ``name``, created if missing, with the experiment kind set."""
        found = self.client.get_experiment_by_name(name)
        if found is None:
            return self.client.create_experiment(
                name, artifact_location(self.uri), tags=EXPERIMENT_KIND
            )
        for key, value in EXPERIMENT_KIND.items():
            if key not in found.tags:  # an experiment made before, or by another tool
                self.client.set_experiment_tag(found.experiment_id, key, value)
        warn_if_artifacts_elsewhere(self.uri, name, found.artifact_location)
        return found.experiment_id

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Record ``params`` flattened to dotted keys."""
        from mlflow.entities import Param

        batch = [Param(k, str(v)) for k, v in sorted(flatten(params).items())]
        for start in range(0, len(batch), 100):
            self.client.log_batch(run_id, params=batch[start : start + 100])

    def log_metrics(
        self, run_id: str, metrics: Mapping[str, float], step: int | None = None
    ) -> None:
        """Record final (or stepped) metric values."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        if batch:
            self.client.log_batch(run_id, metrics=batch)

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        """Upload a file or a folder to the run."""
        if Path(path).is_dir():
            self.client.log_artifacts(run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(run_id, str(path), artifact_path)

    def log_dict(self, run_id: str, values: Mapping[str, Any], name: str) -> None:
        """Store ``values`` as a YAML or JSON artifact called ``name``."""
        self.client.log_dict(run_id, dict(values), name)

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        """Tag the run."""
        self.client.set_tag(run_id, key, value)

    def set_status(self, run_id: str, status: str) -> None:
        """Reopen the run (RUNNING) or end it (FINISHED, FAILED or KILLED)."""
        if status == "RUNNING":
            self.client.update_run(run_id, status=status)
        else:
            self.client.set_terminated(run_id, status=status)

    def get_run(self, run_id: str) -> Any:
        """The run (MLflow's ``Run``: info, params, metrics, tags)."""
        return self.client.get_run(run_id)

    def run_exists(self, run_id: str) -> bool:
        """True when ``run_id`` is an active (not deleted) run of this store."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(run_id).info.lifecycle_stage == "active"
        except MlflowException:
            return False

    def delete_run(self, run_id: str) -> None:
        """Move the run to MLflow's trash."""
        self.client.delete_run(run_id)

    def close_dead_runs(self, experiment: str) -> None:
        """Close as KILLED the RUNNING runs of ``experiment`` whose process, on this machine, has
        died."""
        found = self.client.get_experiment_by_name(experiment)
        if found is not None:
            self._close_dead_runs(found.experiment_id)

    def _close_dead_runs(self, experiment_id: str) -> None:
        host = socket.gethostname()
        for found in self.client.search_runs(
            [experiment_id], "attributes.status = 'RUNNING'", max_results=1000
        ):
            tags = found.data.tags
            if (
                tags.get(HOST_TAG) == host
                and tags.get(PID_TAG, "").isdigit()
                and not _alive(int(tags[PID_TAG]))
            ):
                self.client.set_terminated(found.info.run_id, status="KILLED")

    def has_run(self, run_id: str) -> bool:
        """Whether this store holds the run ``run_id`` (a checkpoint may name a run recorded in
        another store, e.g. before MLFLOW_TRACKING_URI changed)."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_run(run_id)
        except MlflowException as error:
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                return False
            raise
        return True

    @contextlib.contextmanager
    def active(self, run_id: str, stage: str | None = None) -> Iterator[str]:
        """Mark the run RUNNING while a stage works on it; FINISHED after, FAILED if the stage
        raises.

        A later ``stage`` (evaluate, export) that fails on a run that had FINISHED leaves it
        FINISHED, with the failure in the tag ``pipeline.failed_stage``: the run's model is the
        last good one, which DVC keeps in place, and a FAILED status would tell otherwise. The
        stage's next success removes the tag."""
        from mlflow.entities import RunTag

        experiment_id = self.client.get_run(run_id).info.experiment_id
        self._close_dead_runs(experiment_id)
        before = self.client.get_run(run_id)
        finished_before = before.info.status == "FINISHED"
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in _owner_tags().items()])
        self.client.update_run(run_id, status="RUNNING")
        try:
            yield run_id
        except BaseException as error:
            # The store itself may be what failed: its own error must not hide the stage's.
            with contextlib.suppress(Exception):
                if stage is not None and finished_before:
                    self.client.set_tag(run_id, FAILED_STAGE_TAG, f"{stage}: {_one_line(error)}")
                    self.client.set_terminated(run_id, status="FINISHED")
                else:
                    self.client.set_terminated(run_id, status="FAILED")
            raise
        if stage is not None and FAILED_STAGE_TAG in before.data.tags:
            self.client.delete_tag(run_id, FAILED_STAGE_TAG)
        self.client.set_terminated(run_id, status="FINISHED")
