"""The comparison's statistics on synthetic values with a known shift: intervals cover the true
difference at their nominal rate, and with no effect the Holm-corrected tests reject at most at
theirs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pipeline.compare.stats import holm, paired, spread
from pipeline.compare.summary import summarize
from pipeline.compare.table import table

SIMULATIONS = 2000


def simulated(rng, shift: float, seeds: int, variants: int = 1) -> dict:
    """``values[variant][seed]["test.accuracy"]``: a per-seed effect shared by all variants (what
    pairing removes), run noise, and ``shift`` added to every variant but the reference."""
    seed_effect = rng.normal(0.0, 0.02, seeds)
    values = {}
    for index in range(variants + 1):
        noise = rng.normal(0.0, 0.01, seeds)
        own = 0.9 + seed_effect + noise + (shift if index else 0.0)
        values[f"v{index}"] = {s: {"test.accuracy": float(own[s])} for s in range(seeds)}
    return values


@pytest.mark.parametrize("seeds", [3, 5, 10])
def test_intervals_cover_the_true_difference_and_mean_at_the_nominal_rate(seeds):
    rng = np.random.default_rng(seeds)
    shift, covered_diff, covered_mean = 0.004, 0, 0
    for _ in range(SIMULATIONS):
        summary = summarize(simulated(rng, shift, seeds), ["v0", "v1"], ["test.accuracy"])
        against = summary["v1"]["test.accuracy"]["vs_reference"]
        covered_diff += against["ci_low"] <= shift <= against["ci_high"]
        # one variant's mean: its seeds vary by the seed effect and the noise, mean 0.9
        reference = summary["v0"]["test.accuracy"]
        covered_mean += reference["ci_low"] <= 0.9 <= reference["ci_high"]
    assert 0.93 <= covered_diff / SIMULATIONS <= 0.97
    assert 0.93 <= covered_mean / SIMULATIONS <= 0.97


def test_with_no_effect_holm_keeps_any_false_rejection_at_most_nominal():
    """Three variants against one reference, two metrics each: six tests per comparison."""
    rng = np.random.default_rng(0)
    any_rejected, rejected, tests = 0, 0, 0
    for _ in range(SIMULATIONS):
        values = simulated(rng, 0.0, seeds=5, variants=3)
        for variant in values.values():  # a second, independent metric
            for seed in variant.values():
                seed["test.nll"] = float(rng.normal(0.3, 0.05))
        summary = summarize(values, ["v0", "v1", "v2", "v3"], ["test.accuracy", "test.nll"])
        adjusted = [
            summary[v][m]["vs_reference"]["p_adjusted"]
            for v in ("v1", "v2", "v3")
            for m in ("test.accuracy", "test.nll")
        ]
        any_rejected += any(p < 0.05 for p in adjusted)
        rejected += sum(p < 0.05 for p in adjusted)
        tests += len(adjusted)
    # Holm bounds the family-wise rate by 5%; the binomial margin at 2000 simulations is ~1%.
    assert any_rejected / SIMULATIONS <= 0.06
    assert rejected / tests <= 0.05


def test_a_real_effect_is_found_and_told_in_one_sentence():
    rng = np.random.default_rng(1)
    summary = summarize(simulated(rng, 0.02, seeds=5), ["v0", "v1"], ["test.accuracy"])
    against = summary["v1"]["test.accuracy"]["vs_reference"]
    assert against["p_adjusted"] < 0.05 and against["higher"] == 5
    assert against["verdict"].startswith("`v1`: test.accuracy +")
    assert "points [+" in against["verdict"] and "higher on 5 of 5 seeds" in against["verdict"]


def test_the_paired_test_matches_scipy_and_the_interval_agrees_with_it():
    a, b = [0.91, 0.93, 0.92, 0.95, 0.9], [0.9, 0.925, 0.9, 0.94, 0.9]
    difference = paired(a, b)
    assert difference.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    d = np.subtract(a, b)
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5)
    assert (difference.ci_low, difference.ci_high) == pytest.approx(
        (d.mean() - half, d.mean() + half)
    )
    # rejecting at 5% is the same as the 95% interval excluding zero
    assert (difference.p_value < 0.05) == (difference.ci_low > 0 or difference.ci_high < 0)
    assert (difference.higher, difference.lower) == (4, 0)


def test_edge_cases_stay_numbers_or_nan():
    assert math.isnan(spread([0.5]).std) and spread([0.5]).mean == 0.5
    assert paired([1.0, 1.0], [1.0, 1.0]).p_value == 1.0  # identical runs: no difference
    assert paired([1.1, 1.1], [1.0, 1.0]).p_value == 0.0  # the same gain on every seed
    assert holm([0.01, 0.04, 0.03, math.nan])[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(holm([math.nan])[0])


def test_a_metric_is_compared_with_its_baseline_of_the_same_runs():
    """One variant, a model's score against a trivial baseline the same run computed: the paired
    difference is exactly the per-seed difference, and it is one more Holm-corrected test."""
    model = [0.33, 0.35, 0.31, 0.36, 0.34]
    trivial = [0.20, 0.21, 0.19, 0.22, 0.20]
    values = {
        "on_lstm": {
            s: {"f1": m, "f1_balanced": t}
            for s, (m, t) in enumerate(zip(model, trivial, strict=True))
        }
    }
    summary = summarize(values, ["on_lstm"], ["f1", "f1_balanced"], [("f1", "f1_balanced")])
    entry = summary["on_lstm"]["f1"]
    assert "vs_reference" not in entry and list(entry["vs_baselines"]) == ["f1_balanced"]
    against = entry["vs_baselines"]["f1_balanced"]
    expected = paired(model, trivial)
    assert against["diff"] == pytest.approx(expected.diff) and against["ci_low"] == expected.ci_low
    assert against["p_adjusted"] == against["p_value"] and against["seeds"] == [0, 1, 2, 3, 4]
    assert against["verdict"].startswith("`on_lstm` against f1_balanced: f1 +13.40 points [+")
    assert "higher on 5 of 5 seeds (p = " in against["verdict"]
    shown = table(summary, "on_lstm")
    assert not any("Δ vs" in line for line in shown) and against["verdict"][:60] in "".join(shown)
    two = summarize({**values, "b": values["on_lstm"]}, ["on_lstm", "b"], ["f1"], [("f1", "f1")])
    assert two["b"]["f1"]["vs_reference"]["p_adjusted"] >= two["b"]["f1"]["vs_reference"]["p_value"]
    assert "Holm over 3 tests" in two["b"]["f1"]["vs_baselines"]["f1"]["verdict"]
    # A baseline is its run's own yardstick: reported, but not compared across variants.
    pair = {"on_lstm": values["on_lstm"], "b": values["on_lstm"]}
    both = summarize(pair, ["on_lstm", "b"], ["f1", "f1_balanced"], [("f1", "f1_balanced")])
    assert "vs_reference" in both["b"]["f1"] and "vs_reference" not in both["b"]["f1_balanced"]
    assert both["b"]["f1_balanced"]["mean"] == pytest.approx(np.mean(trivial))
    assert "Holm over 3 tests" in both["b"]["f1"]["vs_reference"]["verdict"]
    assert len(table(both, "on_lstm")) > 0
