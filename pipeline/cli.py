"""The ``pipeline`` command: list plugins, run one stage (what dvc.yaml calls), sweep
hyperparameters, compare variants over seeds."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from pipeline._runtime.gc_exit import skip_collection_at_exit
from pipeline.errors import PipelineError, machine_error, stop_signal, store_error
from pipeline.stages import STAGES


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="pipeline",
        description="Plugin-based experiment pipeline: prepare → train → evaluate → export.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plugins = commands.add_parser(
        "plugins", help="list the installed model families, datasets, tricks and optimizers"
    )
    plugins.add_argument(
        "--settings",
        metavar="NAME",
        help="print the settings of the family, dataset, trick or optimizer NAME with their "
        "defaults and what they do",
    )

    run = commands.add_parser("run", help="run one stage (dvc.yaml calls this)")
    run.add_argument("stage", choices=STAGES)
    run.add_argument(
        "--params",
        type=Path,
        default=Path("params.yaml"),
        help="params file (default: params.yaml)",
    )

    sweep = commands.add_parser(
        "sweep", help="tune params.yaml with Optuna over a search space (conf/sweep/*.yaml)"
    )
    sweep.add_argument("space", help="search space: a name under conf/sweep/ or a YAML file")
    sweep.add_argument(
        "--n-trials",
        type=int,
        help="trials the study should hold in total, counting those it already holds: a "
        "study with 6 trials runs none for --n-trials 4 and 2 more for --n-trials 8 "
        "(default: the space's n_trials)",
    )
    sweep.add_argument(
        "--workers",
        type=int,
        default=1,
        help="local worker processes sharing the study (default: 1)",
    )
    sweep.add_argument("--storage", help="Optuna storage URL (default: sqlite:///optuna/sweeps.db)")
    sweep.add_argument("--study", help="study name (default: the space file's name)")
    sweep.add_argument("--timeout", type=float, help="start no trial after this many seconds")
    sweep.add_argument(
        "--confirm-top",
        type=int,
        metavar="K",
        help="rerun the study's K best trials over --seeds seeds as a comparison and make the "
        "best by mean the study's choice for --apply-best",
    )
    sweep.add_argument("--seeds", type=int, default=5, help="seeds for --confirm-top (default: 5)")
    sweep.add_argument(
        "--apply-best",
        action="store_true",
        help="write the study's best trial into params.yaml and print the dvc exp run line; "
        "runs no trial",
    )

    compare = commands.add_parser(
        "compare", help="compare variants over seeds with intervals and paired tests"
    )
    compare.add_argument("spec", help="comparison spec: a name under conf/compare/ or a YAML file")
    compare.add_argument(
        "--workers",
        type=int,
        default=1,
        help="local worker processes sharing the runs (default: 1)",
    )
    compare.add_argument(
        "--storage", help="Optuna storage URL (default: sqlite:///comparisons/comparisons.db)"
    )
    plots = commands.add_parser(
        "plots", help="DVC's plots on one page that needs no network (charts drawn as SVG)"
    )
    plots.add_argument(
        "revisions", nargs="*", help="git revisions or experiments to compare (default: workspace)"
    )
    plots.add_argument(
        "--out", type=Path, help="the page to write (default: dvc_plots/offline.html)"
    )
    return parser


def cmd_plots(args: argparse.Namespace) -> int:
    """Write the offline page of DVC's plots and say where it is."""
    from pipeline.plots_page import DEFAULT_PAGE, write_page

    page = args.out or DEFAULT_PAGE
    count = write_page(Path.cwd(), args.revisions, page)
    print(f"plots: {count} charts and images in {page}; open it in a browser, no network needed.")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """Print every registered family, dataset, trick and optimizer with its package, then any
    plugin that failed to load (exit 1); with ``--settings NAME``, the settings of NAME."""
    from pipeline.plugin.registry import Registry, create_plugin_manager

    registry = Registry(create_plugin_manager(report_broken=False))
    if args.settings is not None:
        return print_settings(registry, args.settings)
    for title, entries in (
        ("model families", registry.families),
        ("datasets", registry.datasets),
        ("tricks", registry.tricks),
    ):
        print(f"{title}:")
        for name, entry in entries.items():
            print(f"  {name:<16} {entry.spec.description}  [{entry.package}]")
        if not entries:
            print("  (none installed)")
    print("optimizers (optimizer.name):")
    for name, entry in registry.optimizers.items():
        uses = entry.spec.own_settings
        extra = f"; also uses optimizer.{', optimizer.'.join(uses)}" if uses else ""
        print(f"  {name:<16} {entry.spec.description}{extra}  [{entry.package}]")
    if not registry.broken:
        return 0
    print("broken plugins:")
    for plugin in registry.broken:
        print(f"  {plugin.distribution} {plugin.version}, entry point {plugin.entry_point}")
        print(f"    {plugin.error}")
        print(f"    to fix: {plugin.remedy}")
    names = ", ".join(sorted({plugin.distribution for plugin in registry.broken}))
    print(
        f'error: {len(registry.broken)} installed plugin(s) failed to load ({names}); see "broken '
        'plugins:" above.',
        file=sys.stderr,
    )
    return 1


def print_settings(registry, name: str) -> int:
    """Print each component called ``name`` (a family, dataset, trick or optimizer) with its
    settings as params.yaml keys, their defaults and docs; an unknown name is an error."""
    from pipeline.params.validate import CORE_SCHEMA
    from pipeline.plugin.hookspecs import OPTIMIZER_CORE_KEYS
    from pipeline.plugin.schema import did_you_mean

    kinds = (  # (what, its entries, how params.yaml selects it, where its settings go)
        ("model family", registry.families, "model.family", "model"),
        ("dataset", registry.datasets, "data.name", "data"),
        ("trick", registry.tricks, f"tricks: {{{name}: {{}}}}", f"tricks.{name}"),
        ("optimizer", registry.optimizers, "optimizer.name", "optimizer"),
    )
    found = [kind for kind in kinds if name in kind[1]]
    if not found:
        known = {n for _, entries, _, _ in kinds for n in entries}
        raise PipelineError(
            f"no model family, dataset, trick or optimizer is called {name!r}"
            f"{did_you_mean(name, sorted(known))}; `pipeline plugins` lists them."
        )
    for what, entries, selected_by, section in found:
        entry = entries[name]
        chosen = selected_by if what == "trick" else f"{selected_by}: {name}"
        print(f"{what} {name}: {entry.spec.description}  [{entry.package}]")
        print(f"  chosen by {chosen}")
        settings = entry.spec.settings
        if not settings:
            print("  no settings of its own")
        for key, setting in settings.items():
            print(f"  {section}.{key} = {_yaml_value(setting.default)}")
            print(f"      {setting.doc or '(undocumented)'}; {setting.describe()}")
        core = (
            OPTIMIZER_CORE_KEYS[1:]
            if section == "optimizer"
            else tuple(CORE_SCHEMA.get(section, ()))
        )
        shared = [key for key in core if key not in settings and key not in ("name", "family")]
        if shared:
            print(f"  also takes the settings every {what} does: {', '.join(shared)}")
    return 0


def _yaml_value(value) -> str:
    """``value`` as params.yaml writes it (null, true, 0.001, official, [a, b])."""
    import json

    return value if isinstance(value, str) else json.dumps(value)


def cmd_run(args: argparse.Namespace) -> int:
    """Validate params, then run the stage."""
    import contextlib
    import time

    from pipeline.stages import SCORING, console, run_stage
    from pipeline.stages.context import build_context

    started = time.perf_counter()
    if args.stage == "check":  # the first stage of every repro
        from pipeline.stages.restore import remember_repro_start

        remember_repro_start()
    if args.stage in SCORING:
        from pipeline.training.module_base import without_lightning

        without_lightning()
    ctx = build_context(Path.cwd(), args.params)
    print(console.describe(args.stage, ctx.params), flush=True)  # before the heavy imports
    # TensorFlow's runtime writes to the file descriptor, past Python's warnings and logging.
    native = console.native_stderr_filtered() if args.stage == "export" else None
    with native or contextlib.nullcontext():
        metrics = run_stage(args.stage, ctx)
    for line in console.summary(args.stage, metrics, ctx.paths, time.perf_counter() - started):
        print(line, flush=True)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run or resume an Optuna sweep over the search space, or confirm its best trials."""
    from pipeline.sweep.command import Request, run_sweep

    if args.confirm_top is not None:
        from pipeline.compare.confirm import confirm_top

        if args.apply_best or args.n_trials is not None:
            raise PipelineError(
                "--confirm-top reruns trials the study holds; give it without --n-trials and "
                "--apply-best, then apply the confirmed trial with --apply-best alone."
            )
        return confirm_top(
            args.space,
            args.confirm_top,
            args.seeds,
            Path.cwd(),
            args.study,
            args.storage,
            args.workers,
        )

    request = Request(
        args.space,
        args.n_trials,
        args.workers,
        args.storage,
        args.study,
        args.timeout,
        args.apply_best,
    )
    return run_sweep(request, Path.cwd())


def cmd_compare(args: argparse.Namespace) -> int:
    """Run or resume a comparison of variants over seeds."""
    from pipeline.compare.command import Request, run_compare

    return run_compare(Request(args.spec, args.workers, args.storage), Path.cwd())


COMMANDS = {
    "plugins": cmd_plugins,
    "run": cmd_run,
    "sweep": cmd_sweep,
    "compare": cmd_compare,
    "plots": cmd_plots,
}


def _terminate(signum, frame):  # a kill marks the MLflow run FAILED instead of leaving it RUNNING
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    skip_collection_at_exit()  # before the stage's libraries register their own exit handlers
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return COMMANDS[args.command](args)
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        _keep_last_results(args)
        return 2
    except BaseException as error:
        # The machine's failures, a lost tracking store and a stop signal are one line too; any
        # other exception is a defect and keeps its traceback.
        failure = machine_error(error) or store_error(error) or stop_signal(error)
        if failure is None:
            _keep_last_results(args)
            raise
        print(f"error: {failure.line}", file=sys.stderr)
        _keep_last_results(args)
        return failure.exit_code


def _keep_last_results(args: argparse.Namespace) -> None:
    """After a stage that DVC runs failed, put back the last good outputs DVC removed before it,
    and roll back the stages the same repro finished before it."""
    if args.command != "run":
        return
    from pipeline.stages.restore import restore_failed_stage

    try:
        restored = restore_failed_stage()
    except Exception as error:  # never hide the stage's own error behind this one
        print(
            f"warning: could not restore the last results from DVC's cache ({error}); once the "
            "cause is gone, run `dvc checkout --force` to put them back.",
            file=sys.stderr,
        )
        return
    if restored.paths and args.stage != "check":  # check's outputs are no result
        print(
            f"kept the last good results: {', '.join(restored.paths)} restored from DVC's cache.",
            file=sys.stderr,
        )
    if restored.stages:
        print(
            f"rolled back {', '.join(restored.stages)} of this repro too; the next `dvc repro` "
            "takes back what they produced from DVC's run cache, without running them again.",
            file=sys.stderr,
        )


if __name__ == "__main__":
    sys.exit(main())
