"""The Transformer's sizes from a family's settings, checked: shared by the families built on
:class:`plugins.cln_lm.model.ConditionalLM`'s blocks."""

from __future__ import annotations

from typing import Any, Mapping

from pipeline import DataInfo, PipelineError


def transformer_sizes(settings: Mapping[str, Any], info: DataInfo) -> dict[str, Any]:
    """``vocab``, ``length``, ``d_model``, ``heads``, ``layers``, ``attention`` and ``dropout`` for
    the model; a ``d_model`` the heads do not divide is refused in one line."""
    if settings["d_model"] % settings["heads"]:
        raise PipelineError(
            f"model.d_model = {settings['d_model']} is not a multiple of model.heads = "
            f"{settings['heads']}; choose a d_model that the heads divide."
        )
    return {
        "vocab": len(info.vocab),
        "length": info.input_shape[0],
        **{k: settings[k] for k in ("d_model", "heads", "layers", "attention", "dropout")},
    }
