"""Stage 0: refuse in seconds what would fail later, before DVC removes any result of the last run.

DVC deletes a stage's outputs before running it, so a mistake found inside the train stage would
cost the last good model. This stage runs on every ``dvc repro`` (``always_changed``) and imports
nothing heavy. By the time it runs, the whole params.yaml has been validated (building the context
does that: unknown sections and keys, values, trainer arguments). It then checks that the chosen
accelerator exists, that the tracking store answers, and that the dataset's source files are there,
and writes ``data/source.json``, the fingerprint of those files and of the dataset's plugin, which
the prepare stage depends on, and ``data/plugins.json``, that of the family's and the tricks'
plugins (distribution, version, and the sources of an editable install), which train, evaluate
and export depend on: editing an installed plugin reruns what uses it.
"""

from __future__ import annotations

from pipeline.stages.context import RunContext


def run(ctx: RunContext) -> dict[str, float]:
    """Check what later stages need; write the data source and plugin fingerprints."""
    from pipeline.params.trainer_section import check_accelerator_available
    from pipeline.stages.fingerprints import plugin_fingerprint, source_fingerprint
    from pipeline.stages.outputs import write_json
    from pipeline.tracking.runs import check_reachable, tracking_uri

    params = ctx.params
    check_accelerator_available(params["trainer"]["accelerator"])
    check_reachable(tracking_uri(ctx.paths.root))
    registry, seen = ctx.registry, {}
    dataset = registry.datasets[params["data"]["name"]]
    write_json(ctx.paths.source_record, source_fingerprint(dataset, params["data"], seen))
    plugins = {
        "family": plugin_fingerprint(registry.families[params["model"]["family"]], seen),
        "optimizer": plugin_fingerprint(registry.optimizers[params["optimizer"]["name"]], seen),
        "tricks": {
            name: plugin_fingerprint(registry.tricks[name], seen)
            for name in sorted(params["tricks"])
        },
    }
    write_json(ctx.paths.plugin_record, plugins)
    return {}
