"""Where a study lives: an SQLite file in the project by default, or a shared database for many machines.

Only Optuna's RDB storage can tell a live trial from one whose worker died (heartbeats); its
journal storage cannot, so even the embedded default is SQLite. A trial whose heartbeat stops is
failed and queued again with the same params by Optuna's retry callback.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError

MAX_RETRIES = 3  # a trial that keeps killing its worker (out of memory, say) stops being retried


def default_url(root: Path) -> str:
    """``optuna/sweeps.db`` at the project root (git-ignored)."""
    folder = Path(root).resolve() / "optuna"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'sweeps.db'}"


def shown(url: str) -> str:
    """The URL with any password masked, for messages and MLflow."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all; nothing secret to hide
        return url


def open_storage(url: str, heartbeat_interval: int, grace_period: int) -> Any:
    """An Optuna RDB storage with heartbeats and retry of dead workers' trials, or a clear error."""
    import warnings

    import optuna
    from sqlalchemy import exc
    from sqlalchemy.engine import make_url

    try:
        backend = make_url(url).get_backend_name()
    except exc.ArgumentError as error:
        raise PipelineError(f"--storage {url!r} is not a database URL; use e.g. sqlite:///optuna/sweeps.db or postgresql://user@host/db.") from error
    # SQLite serializes writers; a generous lock timeout lets several local workers share one file.
    engine = {"connect_args": {"timeout": 60}} if backend == "sqlite" else {"pool_pre_ping": True}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", FutureWarning)
            return optuna.storages.RDBStorage(
                url, engine_kwargs=engine, heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES))
    except ImportError as error:
        raise PipelineError(f"storage {shown(url)} needs a database driver that is not installed ({error.__cause__ or error}); "
                            "e.g. pip install psycopg2-binary for PostgreSQL or pymysql for MySQL.") from error
    except exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise PipelineError(f"storage {shown(url)} cannot be reached: {reason}.") from error


def open_study(storage: Any, name: str, direction: str, sampler: Any = None, pruner: Any = None) -> Any:
    """Create the study, or continue it; refuse one that optimizes in the other direction."""
    import optuna

    study = optuna.create_study(storage=storage, study_name=name, direction=direction, sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    actual = study.direction.name.lower()
    if actual != direction:
        raise PipelineError(f"study {name!r} already exists and {actual}s its objective, but the space says {direction}; pass --study NEW_NAME.")
    return study
