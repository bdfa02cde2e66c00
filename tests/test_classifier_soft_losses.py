"""The classifier's smoothed losses: the soft max's bounds, soft metrics equal the hard ones on 0/1
probabilities, the default loss is unchanged cross-entropy, and soft F1 training beats
cross-entropy's F1 on the imbalanced digits_one_vs_rest."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score

from pipeline.errors import PipelineError
from pipeline.params.hydra_groups import compose_params
from pipeline.params.validate import validate
from plugins.classifier.soft import LOSSES, soft_accuracy, soft_f1, soft_max
from tests.family_kit import CONF, REGISTRY, build, fit, prepared

pytestmark = pytest.mark.usefixtures("one_thread")


def test_soft_max_lies_within_its_bound_and_tends_to_the_max():
    x = torch.tensor([[0.3, -1.2, 2.5, 2.4, 0.0], [5.0, 5.0, 5.0, 5.0, 5.0]], dtype=torch.float64)
    top = x.max(1).values
    gaps = []
    for temperature in (1.0, 0.1, 0.01, 0.001):
        soft = soft_max(x, temperature)
        assert torch.all(top <= soft)
        # equal entries reach the upper bound, up to the last bit
        assert torch.all(soft <= top + temperature * math.log(5) + 1e-12)
        gaps.append(float((soft - top)[0]))
    torch.testing.assert_close(soft_max(x[1:], 0.5), torch.tensor([5 + 0.5 * math.log(5)]).double())
    assert gaps == sorted(gaps, reverse=True) and gaps[-1] < 1e-12
    torch.testing.assert_close(
        gaps[0], math.log1p(sum(math.exp(v - 2.5) for v in (0.3, -1.2, 2.4, 0.0)))
    )


def one_hot_predictions(classes: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=generator)
    predicted = torch.randint(0, classes, (n,), generator=generator)
    return F.one_hot(predicted, classes).double(), y


@pytest.mark.parametrize("classes", [2, 3, 10])
def test_on_zero_one_probabilities_soft_f1_is_sklearns_f1_and_soft_accuracy_is_accuracy(classes):
    probs, y = one_hot_predictions(classes, 200, seed=classes)
    predicted = probs.argmax(1).numpy()
    average = "binary" if classes == 2 else "macro"
    expected = f1_score(
        y.numpy(), predicted, average=average, labels=range(classes) if classes > 2 else None
    )
    assert 0.05 < expected < 0.95
    assert float(soft_f1(probs, y)) == pytest.approx(expected, abs=1e-12)
    assert float(soft_accuracy(probs, y)) == pytest.approx(
        float((predicted == y.numpy()).mean()), abs=1e-12
    )


def test_soft_f1_is_zero_when_the_positive_class_is_neither_predicted_nor_present():
    probs, y = torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([0, 0])
    assert float(soft_f1(probs, y)) == 0.0 == f1_score([0, 0], [0, 0], zero_division=0)


def test_soft_losses_are_one_minus_the_soft_metrics_of_the_softmax():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5], [-3.0, 1.0]])
    y = torch.tensor([0, 1, 1])
    p = logits.softmax(1)
    assert float(LOSSES["soft_accuracy"](logits, y)) == pytest.approx(
        1 - float(p[0, 0] + p[1, 1] + p[2, 1]) / 3
    )
    tp, fp, fn = float(p[1, 1] + p[2, 1]), float(p[0, 1]), float(p[1, 0] + p[2, 0])
    assert float(LOSSES["soft_f1"](logits, y)) == pytest.approx(1 - 2 * tp / (2 * tp + fp + fn))


@pytest.mark.filterwarnings("ignore:You are trying to `self.log()`")
def test_the_default_loss_is_cross_entropy_as_before():
    data = prepared("digits")
    _, module = build("classifier", data)
    x, y = torch.from_numpy(data.train.x[:64]), torch.from_numpy(data.train.y[:64])
    assert torch.equal(module.training_step((x, y), 0), F.cross_entropy(module(x), y))


def test_digits_one_vs_rest_labels_one_digit_against_the_rest():
    examples = REGISTRY.dataset("digits_one_vs_rest").load({"positive": 3})
    digits_x, digits_y = REGISTRY.dataset("digits").load({})
    assert np.array_equal(examples.x, digits_x)
    assert examples.y.dtype == np.int64
    assert np.array_equal(examples.y, (digits_y == 3).astype(np.int64))
    assert examples.labels == ("not 3", "3")
    assert int(examples.y.sum()) == 183
    split = prepared("digits_one_vs_rest")
    assert split.info.num_classes == 2 and split.info.labels == ("not 9", "9")
    assert [int(part.y.sum()) for part in (split.train, split.val, split.test)] == [126, 18, 36]


def test_a_digit_out_of_range_is_refused_naming_the_value():
    params = compose_params(CONF, ["data=digits_one_vs_rest", "data.positive=10"])
    with pytest.raises(PipelineError, match=r"data\.positive = 10 is invalid"):
        validate(params, REGISTRY)


def test_the_loss_is_a_model_setting_dvc_can_override():
    params = validate(
        compose_params(CONF, ["data=digits_one_vs_rest", "model.loss=soft_f1"]), REGISTRY
    )
    assert params["model"]["loss"] == "soft_f1"
    assert (params["data"]["name"], params["data"]["positive"]) == ("digits_one_vs_rest", 9)
    with pytest.raises(PipelineError, match=r"model\.loss = 'f1' is invalid"):
        validate(compose_params(CONF, ["model.loss=f1"]), REGISTRY)


def test_soft_f1_training_beats_cross_entropy_on_f1_of_the_rare_class(tmp_path):
    """Five epochs of the default classifier on "is it a 9" (10% positives): cross-entropy still
    predicts few 9s at threshold 0.5, soft F1 balances precision and recall."""
    data = prepared("digits_one_vs_rest")
    scores = {}
    for loss in ("cross_entropy", "soft_f1"):
        family, module = build("classifier", data, loss=loss)
        fit(module, data, max_epochs=5)
        metrics = family.evaluate(module.eval(), data, tmp_path)
        predicted = module(torch.from_numpy(data.test.x)).argmax(1).numpy()
        assert metrics["f1"] == f1_score(data.test.y, predicted)
        scores[loss] = metrics["f1"]
    print("test F1 after 5 epochs:", scores)
    assert scores["soft_f1"] > scores["cross_entropy"] + 0.2
    assert scores["soft_f1"] > 0.75
