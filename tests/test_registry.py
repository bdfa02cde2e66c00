"""The plugin manager: built-ins come from entry points, mistakes in plugins are errors, not
silence."""

from __future__ import annotations

import types

import pytest

from pipeline import DatasetSpec, Family, FamilySpec, Trick, TrickSpec, hookimpl
from pipeline.errors import PipelineError
from pipeline.plugin.hookspecs import LazyReference
from pipeline.plugin.registry import Registry, create_plugin_manager
from tests.project_kit import run


def test_builtins_register_through_entry_points():
    registry = Registry(create_plugin_manager())
    assert {"classifier"} <= set(registry.families)
    assert {"digits", "idx"} <= set(registry.datasets)
    assert registry.families["classifier"].package.startswith("cooler-pipeline ")
    assert registry.family("classifier").name == "classifier"


def test_every_builtin_component_comes_from_the_pipeline_package_through_a_lazy_reference():
    registry = Registry(create_plugin_manager())
    for entries in (registry.families, registry.datasets, registry.tricks):
        for name, entry in entries.items():
            assert entry.package.startswith("cooler-pipeline "), name
            loader = entry.spec.load or entry.spec.stream  # a dataset gives one of the two
            assert isinstance(loader, LazyReference), name
            assert loader.__module__.startswith("plugins."), name


def test_a_lazy_reference_resolves_on_first_call_to_an_instance_or_a_result():
    trick = TrickSpec("t", "x", load="pipeline.plugin.hookspecs:Trick")
    assert trick.load.__module__ == "pipeline.plugin.hookspecs" and trick.load._target is None
    assert type(trick.load()) is Trick and trick.load() is not trick.load()
    dataset = DatasetSpec("d", "x", load="builtins:len", sources="builtins:list")
    assert dataset.load([1, 2, 3]) == 3 and dataset.sources("ab") == ["a", "b"]


def test_a_callable_load_still_works_unchanged():
    spec = FamilySpec("f", "x", load=Family)
    assert spec.load is Family and type(spec.load()) is Family


def test_a_reference_that_does_not_resolve_names_plugin_reference_and_error():
    plugin = types.SimpleNamespace(
        pipeline_tricks=hookimpl(
            lambda: [TrickSpec("typo", "x", load="pipeline_no_such_module.tricks:Typo")]
        )
    )
    spec = Registry(create_plugin_manager([plugin])).trick("typo")  # registering imports nothing
    with pytest.raises(PipelineError) as error:
        spec.load()
    assert str(error.value).startswith(
        f"trick 'typo' of plugin {spec.load.plugin}: load reference "
        "'pipeline_no_such_module.tricks:Typo' does not resolve (ModuleNotFoundError: No module "
        "named 'pipeline_no_such_module'); "
    )
    missing = FamilySpec("f", "x", load="pipeline.plugin.hookspecs:NoSuchFamily")
    with pytest.raises(
        PipelineError,
        match=r"model family 'f': load reference "
        r"'pipeline.plugin.hookspecs:NoSuchFamily' does not resolve \(AttributeError: ",
    ):
        missing.load()


@pytest.mark.parametrize("bad", ["pipeline.plugin.hookspecs", "not a reference", 3])
def test_a_load_that_is_neither_callable_nor_a_reference_is_an_error(bad):
    with pytest.raises(
        PipelineError,
        match=r"trick 't': load = .* is neither a callable nor a "
        r"reference of the form 'package.module:Name'",
    ):
        TrickSpec("t", "x", load=bad)


def test_without_entry_points_nothing_is_built_in():
    registry = Registry(create_plugin_manager(entry_points=False))
    assert registry.families == {} and registry.datasets == {} and registry.tricks == {}


def test_entry_points_load_one_by_one_as_pluggy_would():
    pm = create_plugin_manager()
    assert pm.broken == []
    loaded = {name for name, _ in pm.list_name_plugin()}
    assert {"builtin_datasets", "builtin_families", "builtin_tricks"} <= loaded
    installed = {f"{d.metadata['Name']} {d.version}" for d in pm.installed_from.values()}
    assert "cooler-pipeline 0.1.0" in installed


def test_each_run_gets_a_fresh_manager():
    extra = types.SimpleNamespace(
        pipeline_families=hookimpl(lambda: [FamilySpec("extra", "x", load=lambda: None)])
    )
    with_extra = Registry(create_plugin_manager([extra]))
    assert "extra" in with_extra.families
    assert "extra" not in Registry(create_plugin_manager()).families


def test_misspelled_hook_is_an_error():
    plugin = types.SimpleNamespace(pipeline_familes=hookimpl(lambda: []))
    with pytest.raises(PipelineError, match="pipeline_familes"):
        create_plugin_manager([plugin])


def test_registering_a_class_instead_of_an_instance_is_an_error():
    class Plugin:
        @hookimpl
        def pipeline_families(self):
            return []

    with pytest.raises(PipelineError, match="is the class .*Plugin; register an instance"):
        create_plugin_manager([Plugin])
    assert "classifier" in Registry(create_plugin_manager([Plugin()])).families


def test_a_name_provided_twice_is_an_error():
    twin = types.SimpleNamespace(
        pipeline_datasets=hookimpl(lambda: [DatasetSpec("digits", "again", load=lambda s: None)])
    )
    with pytest.raises(
        PipelineError, match="dataset 'digits' is provided by both cooler-pipeline .* and "
    ):
        Registry(create_plugin_manager([twin]))


def test_a_hook_returning_the_wrong_type_is_an_error():
    wrong = types.SimpleNamespace(pipeline_families=hookimpl(lambda: ["classifier"]))
    with pytest.raises(PipelineError, match="expected FamilySpec objects"):
        Registry(create_plugin_manager([wrong]))


def test_unknown_names_list_the_known_ones():
    registry = Registry(create_plugin_manager())
    with pytest.raises(
        PipelineError, match=r"data.name: unknown dataset 'mnist'; known: .*digits.*idx"
    ):
        registry.dataset("mnist")


def test_plugins_command_lists_components_with_their_package(tmp_path):
    out = run(["pipeline", "plugins"], tmp_path).stdout
    assert "model families:" in out and "datasets:" in out and "tricks:" in out
    assert "broken plugins:" not in out
    line = next(row for row in out.splitlines() if row.strip().startswith("classifier"))
    assert "[cooler-pipeline 0.1.0]" in line


def test_help_lists_the_commands(tmp_path):
    out = run(["pipeline", "--help"], tmp_path).stdout
    assert "plugins" in out and "run" in out
