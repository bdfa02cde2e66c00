"""Comparison specs: every mistake is one sentence naming the key, before any run."""

from __future__ import annotations

import optuna
import pytest

from pipeline.compare.check import check_metrics, check_setup, check_variants
from pipeline.compare.queue import enqueue_missing, finished
from pipeline.compare.recipes import with_recipes
from pipeline.compare.runs import SEED, VARIANT
from pipeline.compare.spec import load_spec, parse_spec
from pipeline.errors import PipelineError
from pipeline.params.validate import read_yaml
from tests.project_kit import REPO

BASE = read_yaml(REPO / "params.yaml")
TWO = {"none": {}, "ema": {"tricks.ema": {}}}


def spec(**top):
    return parse_spec({"variants": TWO, **top}, "c.yaml", "c")


@pytest.mark.parametrize(
    "top, message",
    [
        ({"variant": {}}, "variant is not a known setting (did you mean 'variants'?)"),
        ({"variants": {}}, "variants must name at least one variant"),
        ({"baselines": {"f1": []}}, "baselines = {'f1': []} is invalid; expected a mapping"),
        ({"seeds": 1}, "seeds = 1 is invalid; expected a number of seeds (at least 2)"),
        ({"seeds": [1, 1]}, "seeds = [1, 1] is invalid"),
        (
            {"vary": ["split"]},
            "vary = ['split'] is invalid; expected a list holding init and order",
        ),
        ({"base": {"seed": 3}}, "base.seed cannot be set here, because `seeds` sets it"),
        (
            {"variants": {"a": {}, "b": {"data.val_fraction": 0.2}}},
            "variants.b.data.val_fraction cannot be set here, because paired runs must see the "
            "same data; set it in `base` instead.",
        ),
        ({"metrics": []}, "metrics = [] is invalid; expected a non-empty list of metric names"),
    ],
)
def test_malformed_spec_names_the_key(top, message):
    with pytest.raises(PipelineError, match="^c.yaml: " + __import__("re").escape(message)):
        parse_spec({"variants": TWO, **top}, "c.yaml", "c")


def test_the_shipped_spec_fits_the_project(registry):
    shipped = load_spec("ema-vs-none", REPO)
    assert shipped.reference == "none" and shipped.seeds == (0, 1, 2, 3, 4)
    assert shipped.vary == {"init", "order"}
    checked = check_variants(shipped, BASE, registry)
    assert "ema" in checked["ema"]["tricks"] and checked["none"]["tricks"] == {}
    assert checked["ema"]["trainer"]["max_epochs"] == 10 and checked["ema"]["seed"] == 0


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "conf" / "compare").glob("*.yaml")))
def test_every_shipped_spec_validates(registry, name):
    shipped = with_recipes(load_spec(name, REPO), REPO)
    checked = check_variants(shipped, BASE, registry)
    assert list(checked) == shipped.names and len(shipped.seeds) >= 5


def test_a_variant_picks_a_recipe_as_dvc_exp_run_does(registry):
    from pipeline.params.hydra_groups import compose_params

    variants = {"vae": {"model": "vae"}, "wgan": {"model": "wgan_gp", "trainer.max_epochs": 3}}
    picked = with_recipes(spec(variants=variants, base={"optimizer.lr": 0.002}), REPO)
    conf = REPO / "conf"
    assert picked.raw_params(BASE, "wgan", 0) == compose_params(
        conf, ["model=wgan_gp", "trainer.max_epochs=3", "optimizer.lr=0.002"]
    )
    assert picked.raw_params(BASE, "vae", 1) == compose_params(
        conf, ["model=vae", "optimizer.lr=0.002", "seed=1"]
    )
    checked = check_variants(picked, BASE, registry)
    assert checked["wgan"]["tricks"]["param_lr"]["multipliers"] == [["generator.*", 0.2]]
    assert checked["vae"]["tricks"] == {} and checked["vae"]["model"]["latent"] == 2
    assert with_recipes(spec(), REPO) == spec()  # no recipe picked: nothing composed
    ring = with_recipes(
        spec(variants={"ebm": {"model": "ebm"}, "flow": {"model": "iresnet"}}), REPO
    )
    data = compose_params(conf, ["model=ebm"])["data"]
    assert data["name"] == "gaussian_mixture"  # both recipes bring the same data: they compare
    assert (
        ring.raw_params(BASE, "ebm", 0)["data"] == ring.raw_params(BASE, "flow", 0)["data"] == data
    )


@pytest.mark.parametrize(
    "variants, message",
    [
        (
            {"none": {}, "gan": {"model": "gann"}},
            "variants.gan.model: 'gann' names no recipe; conf/model/ holds bioword, classifier, ",
        ),
        (
            {"none": {}, "trees": {"model": "on_lstm"}},
            "variants.trees (model: on_lstm) gets another `data` than variant 'none'; paired runs",
        ),
    ],
)
def test_a_bad_recipe_choice_names_the_variant(variants, message):
    with pytest.raises(PipelineError, match="^c.yaml: " + __import__("re").escape(message)):
        with_recipes(spec(variants=variants), REPO)


def test_overrides_are_validated_like_params_yaml(registry):
    bad = spec(variants={"none": {}, "ema": {"tricks.emaa": {}}})
    with pytest.raises(
        PipelineError, match=r"^c.yaml: variant 'ema' does not fit params.yaml: .*emaa"
    ):
        check_variants(bad, BASE, registry)
    typo = spec(base={"trainer.max_epochs": -1})
    with pytest.raises(PipelineError, match=r"^c.yaml: variant 'none' does not fit params.yaml: "):
        check_variants(typo, BASE, registry)


def test_baselines_are_reported_metrics_of_the_same_runs():
    one = parse_spec(
        {
            "variants": {"on_lstm": {}},
            "metrics": ["perplexity"],
            "baselines": {"parse_f1": ["parse_f1_balanced", "parse_f1_random"]},
        },
        "c.yaml",
        "c",
    )
    assert one.names == ["on_lstm"] and one.reference == "on_lstm"
    assert one.metrics == ("perplexity", "parse_f1", "parse_f1_balanced", "parse_f1_random")
    assert one.baselines == (("parse_f1", "parse_f1_balanced"), ("parse_f1", "parse_f1_random"))


def test_a_seed_varies_the_split_only_when_asked():
    fixed, drawn = spec(), spec(vary=["init", "order", "split"])
    assert [fixed.split_seed(BASE, s) for s in (0, 1, 2)] == [BASE["seed"]] * 3
    assert [drawn.split_seed(BASE, s) for s in (0, 1, 2)] == [0, 1, 2]
    assert fixed.raw_params(BASE, "ema", 4)["seed"] == 4
    assert fixed.raw_params(BASE, "ema", 4)["tricks"] == {"ema": {}}


def test_metrics_must_be_produced_and_default_to_the_familys_objective(tmp_path, registry):
    from pipeline.paths import Paths
    from pipeline.stages import run_stage
    from pipeline.stages.context import RunContext

    variants = check_variants(spec(), BASE, registry)
    ctx = RunContext(variants["none"], registry, Paths(tmp_path))
    run_stage("prepare", ctx)
    prepared = tmp_path / "data" / "prepared"
    assert check_metrics(spec(), variants, registry, prepared, REPO) == ["test.accuracy"]
    both = spec(metrics=["nll", "val_loss"])
    assert check_metrics(both, variants, registry, prepared, REPO) == ["test.nll", "val.loss"]
    with pytest.raises(
        PipelineError,
        match=r"^c.yaml: metric 'val_accuracy' is not produced by variant 'none'; its family "
        r"'classifier' logs: val_acc, val_loss \(evaluate keys",
    ):
        check_metrics(spec(metrics=["val_accuracy"]), variants, registry, prepared, REPO)


def test_missing_pairs_are_queued_once_and_a_changed_setup_is_refused():
    study = optuna.create_study()
    two = spec(seeds=2)
    check_setup(study, two, BASE)
    assert enqueue_missing(study, two) == 4 and enqueue_missing(study, two) == 0
    first = study.ask()  # pops the first queued pair: seed 0 of the reference
    assert (first.user_attrs[VARIANT], first.user_attrs[SEED]) == ("none", 0)
    study.tell(first, 0.0)
    assert list(finished(study)) == [("none", 0)]
    assert enqueue_missing(study, spec(seeds=3)) == 2  # a new seed: its two pairs only
    check_setup(study, spec(seeds=3, variants={**TWO, "new": {}}), BASE)  # adding is fine
    with pytest.raises(PipelineError, match=r"^comparison 'c' ran with another variant 'ema'"):
        check_setup(study, spec(variants={"none": {}, "ema": {"tricks.ema": {"decay": 0.5}}}), BASE)
