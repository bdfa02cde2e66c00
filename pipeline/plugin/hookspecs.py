"""The plugin contract: every hook a plugin may implement, and the types those hooks return.

A plugin is a module (or an object) registered under the entry-point group ``pipeline.plugins``.
The built-in families, datasets and tricks under ``plugins/`` are registered exactly that way, so a
third-party package has every power a built-in has. A plugin implements any of the hooks below with
``@hookimpl`` from :mod:`pipeline.plugin.markers`; a misspelled hook name is an error when the
plugin
loads.

Registration hooks return *specs*: small frozen dataclasses holding a name, a description, the
component's settings with their defaults (:class:`pipeline.plugin.schema.Setting`) and ``load``,
which
reaches the heavy implementation (torch, Lightning) only when a stage needs it. That keeps
``pipeline plugins`` and params validation fast, and lets bad params fail before any heavy import.

``load`` is either a lazy reference, the string ``"package.module:Name"``, or a callable. A
reference is resolved with :func:`pkgutil.resolve_name` on the first call of ``spec.load(...)``
(the spec holds a :class:`LazyReference` in its place), and the resolved object is called with the
same arguments: a class gives an instance (``FamilySpec``, ``TrickSpec``; ``OptimizerSpec`` with
the parameter groups and settings), a function is called with the dataset's settings
(``DatasetSpec.load``, ``DatasetSpec.sources``). So a registration
module needs no loader function per component and imports nothing heavy::

    TrickSpec("ema", "weight moving average", load="my_tricks.ema:EmaTrick", order=90)

A reference that does not resolve (a renamed module or class, a missing dependency) raises one
:class:`pipeline.errors.PipelineError` naming the component, the plugin that registered it, the
reference and the import error.

Lifecycle hooks are called around every stage, for every registered plugin, and their return
values are ignored; they exist for plugins that observe runs (notifications, extra logging).
"""

from __future__ import annotations

import pkgutil
import re
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Callable, Mapping

from pipeline.errors import PipelineError
from pipeline.plugin.markers import hookspec

if TYPE_CHECKING:  # the heavy types stay out of plugin imports
    from pathlib import Path

    import keras
    import numpy as np
    import torch
    from lightning.pytorch import Callback, LightningModule

    from pipeline.data.prepared import PreparedData
    from pipeline.data.types import DataInfo, Examples, Stream
    from pipeline.plugin.schema import Setting


# --- The interfaces a spec's ``load()`` returns -------------------------------------------------


class Family:
    """A model family's implementation: builds the model, evaluates it and names what to export.

    The module returned by :meth:`build` subclasses :class:`pipeline.training.module.ModelModule`:
    its
    ``training_step`` returns the loss, and the core owns ``configure_optimizers`` so that every
    trick composes with every family.

    :meth:`evaluate` and :meth:`export_target` use only the module's own methods and torch's: the
    ``evaluate`` and ``export`` commands load no Lightning, and there ``ModelModule`` derives from
    a plain torch module with a LightningModule's ``device`` and ``current_epoch`` but no
    ``trainer`` or ``log`` (:mod:`pipeline.training.module_base`).
    """

    def build(self, settings: Mapping[str, Any], info: DataInfo) -> LightningModule:
        """Return a fresh, untrained module for ``settings`` (the validated ``model:`` section)."""
        raise NotImplementedError

    def evaluate(
        self, module: LightningModule, data: PreparedData, out_dir: Path
    ) -> dict[str, float]:
        """Return test metrics of a trained module; may draw PNG pictures in ``out_dir``.

        ``dvc plots show`` shows every picture there. It draws a CSV there as a confusion matrix
        (columns ``actual`` and ``predicted``, what :func:`pipeline.plots.save_confusion` writes),
        so write other data elsewhere; per-epoch curves come from what the module logs. Text
        samples (generated strings, titles beside references) go in ``.txt`` files there: the
        evaluate stage moves them to ``samples/`` (a DVC output) and logs them to MLflow.
        """
        raise NotImplementedError

    def export_target(
        self, module: LightningModule, data: PreparedData
    ) -> tuple[torch.nn.Module, torch.Tensor]:
        """Return the network to export (an ``nn.Sequential`` of standard layers converts to Keras
        automatically) and a batch of held-out example inputs for the parity check.

        The inputs may be a tuple of tensors (a network of several inputs, batch first in each; it
        may return a tuple of outputs too), and a family exporting several networks (a sequence
        model's encoder and decoder step) returns ``{part_name: (network, inputs)}``: each part is
        written as ``<part_name>.onnx`` (and so on) and checked on its own."""
        raise NotImplementedError

    #: The formats the export stage writes: ONNX always; SavedModel and TFLite need a Keras twin
    #: (:meth:`keras_model`) or an ``nn.Sequential`` the generic converter rebuilds. A family
    #: without one sets ``("ONNX",)``; the export stage then says so, and MLflow's
    #: ``export.formats`` tag and ``metrics/export.json`` list what was written.
    export_formats: tuple[str, ...] = ("ONNX", "SavedModel", "TFLite")

    def keras_model(self, network: torch.nn.Module) -> keras.Model | None:
        """Return a Keras model computing the same function as ``network`` (from
        :meth:`export_target`) with its trained weights, for the SavedModel/TFLite export; None
        (the default) means the generic converter rebuilds an ``nn.Sequential`` of standard
        layers. Import keras inside this method so that only the export stage loads TensorFlow."""
        return None

    def chance_level(self, module: LightningModule, data: PreparedData) -> Chance | None:
        """Return the trained ``module``'s score on the validation split beside the score a model
        that learned nothing reaches there (for a classifier: its accuracy against the
        majority-class rate). The train stage refuses a model at or below that level, as it
        refuses a diverged one, unless ``checks.chance_level`` is false. None (the default)
        declares no baseline."""
        return None


@dataclass(frozen=True)
class Chance:
    """A trained model's ``score`` on the validation split and the ``level`` that a model which
    learned nothing reaches (:meth:`Family.chance_level`); higher scores are better."""

    metric: str  # what is scored, as a user reads it ("validation accuracy")
    score: float
    level: float

    @property
    def at_chance(self) -> bool:
        """Whether the model scores no better than chance."""
        return not self.score > self.level


class Trick:
    """An optimizer trick's implementation. Every method is optional; the defaults change nothing.

    The core applies enabled tricks in ascending ``TrickSpec.order`` (ties by name), always in
    this sequence: :meth:`check`, :meth:`trainer_kwargs`, :meth:`param_groups`, base optimizer,
    :meth:`wrap_optimizer`, :meth:`scheduler`, :meth:`callbacks`.
    """

    def check(self, settings: Mapping[str, Any], module: LightningModule) -> None:
        """Raise :class:`pipeline.errors.PipelineError` if the settings do not fit this model."""

    def trainer_kwargs(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Extra keyword arguments for Lightning's ``Trainer`` (``accumulate_grad_batches``…)."""
        return {}

    def param_groups(self, settings: Mapping[str, Any], groups: list[dict]) -> list[dict]:
        """Return optimizer param groups. Each group has ``params`` and a parallel ``names`` list;
        groups may be split and given their own ``lr`` or ``weight_decay``, or an ``lr_scale`` that
        multiplies ``optimizer.lr`` (so a trick scales rates without knowing the base rate)."""
        return groups

    def wrap_optimizer(
        self, settings: Mapping[str, Any], optimizer: torch.optim.Optimizer
    ) -> torch.optim.Optimizer:
        """Return the optimizer, possibly wrapped (e.g. Lookahead)."""
        return optimizer

    def scheduler(
        self, settings: Mapping[str, Any], optimizer: torch.optim.Optimizer, total_steps: float
    ) -> dict | None:
        """Return a Lightning lr-scheduler config dict (``{"scheduler": ..., "interval": "step"}``)
        or None.

        ``optimizer`` is the fully wrapped optimizer. ``total_steps`` is the number of optimizer
        steps the whole run takes, counted from its start even when resuming (Lightning's
        ``trainer.estimated_stepping_batches``: epochs × ⌈batches ÷ ``accumulate_grad_batches``⌉,
        capped by ``max_steps``), so a schedule can be set relative to the run's length; it is
        ``math.inf`` when the run has no set end.
        """
        return None

    def callbacks(self, settings: Mapping[str, Any]) -> list[Callback]:
        """Return Lightning callbacks (their state is checkpointed with the run). A callback may
        set the module's ``loss_weight`` (:class:`pipeline.training.module.ModelModule`) in
        ``on_train_batch_start`` to scale that batch's loss before its backward pass, as
        ``grad_accum`` does."""
        return []


DATA_KINDS = ("features", "tokens", "token_pairs")


def _check_kinds(name: str, field_name: str, kinds: tuple[str, ...]) -> None:
    unknown = [k for k in kinds if k not in DATA_KINDS]
    if unknown or not kinds:
        raise PipelineError(
            f"{name}: {field_name} = {kinds!r} names no known kind of data; known kinds: "
            f"{', '.join(DATA_KINDS)}."
        )


# --- Lazy references: ``load="package.module:Name"`` ---------------------------------------------

_REFERENCE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


class LazyReference:
    """What a spec holds in place of a ``"package.module:Name"`` string: calling it resolves the
    name (once, with :func:`pkgutil.resolve_name`) and calls the resolved object with the same
    arguments.

    ``__module__`` is the referenced module, as a loader function's would be. ``plugin`` is set by
    the registry to the package that registered the spec, so a failure can name it.
    """

    def __init__(self, reference: str, component: str):
        self.reference = reference
        self.component = component  # e.g. "trick 'ema'"
        self.plugin: str | None = None
        self.__module__ = reference.partition(":")[0]
        self._target: Callable[..., Any] | None = None

    def resolve(self) -> Callable[..., Any]:
        """The object the reference names, imported on first use."""
        if self._target is None:
            try:
                self._target = pkgutil.resolve_name(self.reference)
            except Exception as error:  # importing a plugin's module can raise anything
                where = f" of plugin {self.plugin}" if self.plugin else ""
                raise PipelineError(
                    f"{self.component}{where}: load reference {self.reference!r} does not resolve "
                    f"({type(error).__name__}: {error}); fix the module path or name after ':', "
                    "or reinstall the plugin."
                ) from error
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"LazyReference({self.reference!r})"


def _resolve_lazily(spec: Any, what: str) -> None:
    """Replace each string among the spec's ``load``/``sources``/``stream``/``rule`` with a
    :class:`LazyReference`."""
    for name in ("load", "sources", "stream", "rule"):
        value = getattr(spec, name, None)
        if value is None or callable(value):
            continue
        if not isinstance(value, str) or not _REFERENCE.fullmatch(value):
            raise PipelineError(
                f"{what} {spec.name!r}: {name} = {value!r} is neither a callable "
                "nor a reference of the form 'package.module:Name'."
            )
        object.__setattr__(spec, name, LazyReference(value, f"{what} {spec.name!r}"))


def lazy_references(spec: Any) -> list[LazyReference]:
    """The lazy references a spec holds (none when it was given callables)."""
    values = (getattr(spec, f.name) for f in fields(spec))
    return [value for value in values if isinstance(value, LazyReference)]


# --- Specs returned by the registration hooks ----------------------------------------------------


@dataclass(frozen=True)
class FamilySpec:
    """A model family: selected by ``model.family`` in params.yaml. ``load()`` returns a
    :class:`Family`; give it as ``"package.module:FamilyClass"`` (the class is instantiated).

    ``reads`` names the kinds of data the family trains on (see :attr:`DatasetSpec.kind`); params
    pairing it with a dataset of another kind are refused before anything runs.
    """

    name: str
    description: str
    load: Callable[[], Family] | str
    settings: Mapping[str, Setting] = field(default_factory=dict)
    reads: tuple[str, ...] = ("features",)

    def __post_init__(self) -> None:
        _resolve_lazily(self, "model family")
        _check_kinds(self.name, "reads", self.reads)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: selected by ``data.name``. ``load(settings)`` returns ``(x, y)`` numpy arrays,
    ``x`` float32 scaled to [0, 1] with one row per example, ``y`` int64 labels (or zeros); give it
    as ``"package.module:function"``. A text dataset returns :class:`pipeline.data.types.Examples`
    instead: ``x`` int64 token ids of a :class:`pipeline.data.vocab.Vocab` (built in ``load``, so
    in the
    prepare stage, and saved with the prepared data), ``y`` labels or target token ids, with the
    vocabulary, label names and a fingerprint of the source.

    ``sources(settings)``, for a dataset read from the user's files, returns those files (or
    folders); their content fingerprint is a DVC dependency of the prepare stage, so changed files
    rerun it. It should raise :class:`pipeline.errors.PipelineError` when they are missing, and stay
    cheap (no parsing): it runs on every ``dvc repro``. It may be a reference too.

    ``kind`` says what a family gets: ``"features"`` (float rows, the default), ``"tokens"``
    (token ids with one label per row) or ``"token_pairs"`` (token ids with a target sequence per
    row, e.g. article and title).

    Data bigger than memory gives ``stream(settings)`` instead of ``load``: it returns a
    :class:`pipeline.data.types.Stream` that yields ``(example_id, x, y)`` one example at a time.
    The
    prepare stage writes the examples into shards (split by a hash of seed and id), and training
    streams them block by block (:mod:`pipeline.data.shards`, :mod:`pipeline.data.shard_batches`).
    A dataset
    gives exactly one of ``load`` and ``stream``.
    """

    name: str
    description: str
    load: Callable[[Mapping[str, Any]], tuple[np.ndarray, np.ndarray] | Examples] | str | None = (
        None
    )
    settings: Mapping[str, Setting] = field(default_factory=dict)
    sources: Callable[[Mapping[str, Any]], list[Path]] | str | None = None
    kind: str = "features"
    stream: Callable[[Mapping[str, Any]], Stream] | str | None = None

    def __post_init__(self) -> None:
        if (self.load is None) == (self.stream is None):
            raise PipelineError(
                f"dataset {self.name!r} must give exactly one of load (arrays) and stream "
                "(examples one at a time)."
            )
        _resolve_lazily(self, "dataset")
        _check_kinds(self.name, "kind", (self.kind,))


@dataclass(frozen=True)
class TrickSpec:
    """An optimizer trick: enabled by an entry under ``tricks:`` holding its settings. ``load()``
    returns a :class:`Trick`; give it as ``"package.module:TrickClass"``.

    ``order`` fixes where it applies among enabled tricks; ``conflicts`` names tricks it refuses to
    run with.
    """

    name: str
    description: str
    load: Callable[[], Trick] | str
    settings: Mapping[str, Setting] = field(default_factory=dict)
    order: int = 100
    conflicts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _resolve_lazily(self, "trick")


#: The ``optimizer:`` settings every optimizer takes; an :class:`OptimizerSpec` adds its own.
OPTIMIZER_CORE_KEYS = ("name", "lr", "batch_size", "weight_decay")


@dataclass(frozen=True)
class OptimizerSpec:
    """A base optimizer: selected by ``optimizer.name``; the tricks wrap it, split its parameter
    groups and schedule its learning rate, whichever optimizer it is.

    ``load(param_groups, lr=..., weight_decay=..., **own_settings)`` returns a
    ``torch.optim.Optimizer``. That is the constructor signature of torch's optimizers, so any
    optimizer class is a lazy reference away: ``load="torch.optim:Adamax"``. Each group in
    ``param_groups`` holds ``params``, a parallel ``names`` list and maybe an ``lr`` of its own.

    ``settings`` are the optimizer's own settings beyond ``name``, ``lr``, ``batch_size`` and
    ``weight_decay`` (:data:`OPTIMIZER_CORE_KEYS`); each is passed to ``load`` as the keyword of
    the same name. A setting named like a core one (``lr``) changes that key's default or limits
    for this optimizer and is passed as the core passes it. Params that give another optimizer's
    setting are refused, naming the optimizers that use it.

    ``rule``, optional, is the update written out: ``rule(theta, grad, state, settings)`` returns
    the parameter after one step (numpy arrays; ``state`` a dict it keeps between calls, empty at
    the first; ``settings`` the validated ``optimizer:`` section). Its docstring states the
    formula. The optimizer contract test runs the optimizer and the rule side by side on a
    quadratic and requires the same trajectory.
    """

    name: str
    description: str
    load: Callable[..., torch.optim.Optimizer] | str
    settings: Mapping[str, Setting] = field(default_factory=dict)
    rule: Callable[..., np.ndarray] | str | None = None

    def __post_init__(self) -> None:
        _resolve_lazily(self, "optimizer")

    @property
    def own_settings(self) -> tuple[str, ...]:
        """The settings this optimizer adds to the core's, in declaration order."""
        return tuple(name for name in self.settings if name not in OPTIMIZER_CORE_KEYS)


# --- Registration: called once when a run's plugin registry is built -----------------------------


@hookspec
def pipeline_families() -> list[FamilySpec]:
    """Return the model families this plugin provides. Results of all plugins are merged;
    a name provided twice is an error naming both plugins."""


@hookspec
def pipeline_datasets() -> list[DatasetSpec]:
    """Return the datasets this plugin provides; merged like :func:`pipeline_families`."""


@hookspec
def pipeline_tricks() -> list[TrickSpec]:
    """Return the optimizer tricks this plugin provides; merged like :func:`pipeline_families`."""


@hookspec
def pipeline_optimizers() -> list[OptimizerSpec]:
    """Return the base optimizers this plugin provides; merged like :func:`pipeline_families`,
    but listed in the order the plugins register them rather than by name."""


# --- Lifecycle: called around every stage (check, prepare, train, evaluate, export) --------------


@hookspec
def pipeline_before_stage(stage: str, params: Mapping[str, Any]) -> None:
    """Called after params are validated, before ``stage`` does any work."""


@hookspec
def pipeline_after_stage(
    stage: str, params: Mapping[str, Any], metrics: Mapping[str, float]
) -> None:
    """Called after ``stage`` finished and wrote its outputs; ``metrics`` are those it recorded."""


@hookspec
def pipeline_on_stage_error(stage: str, params: Mapping[str, Any], error: BaseException) -> None:
    """Called when ``stage`` raised ``error``, before the error is reported and the run is
    marked FAILED."""
