"""A plugin-based experiment pipeline. Plugins import their public face from here."""

from pipeline.errors import PipelineError
from pipeline.plugin.hookspecs import DatasetSpec, Family, FamilySpec, Trick, TrickSpec
from pipeline.plugin.markers import hookimpl
from pipeline.plugin.schema import Setting

__all__ = [
    "DatasetSpec",
    "Family",
    "FamilySpec",
    "PipelineError",
    "Setting",
    "Trick",
    "TrickSpec",
    "hookimpl",
]
