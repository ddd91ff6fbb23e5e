"""The baseline strategies: valid masks, exact counts, and the criteria they claim."""

import numpy as np
import pytest
import torch

from tests.evaluator.nets import calibration_batch, small_cnn
from torch import nn

from evaluator.pruning import (
    BASELINES,
    baseline_name,
    GlobalMagAct,
    GlobalMagGrad,
    GlobalMagWeight,
    LayerMagAct,
    LayerMagGrad,
    LayerMagWeight,
    Mask,
    RandomPruning,
    activation_importance,
    get_baseline,
)

LAYERWISE = {"layer-mag-weight", "layer-mag-grad", "layer-mag-act"}




def run(cls, model, compression, seed=0, batch=None):
    """What the harness does in its child process."""
    inputs, outputs = batch if batch is not None else calibration_batch()
    strategy = cls(model, inputs, outputs, compression=compression, seed=seed)
    raw = strategy.model_masks()
    return strategy, Mask.validate(model, Mask.from_strategy_output(model, raw))


def test_the_registry_names_every_baseline():
    assert list(BASELINES) == [
        "random",
        "global-mag-weight",
        "layer-mag-weight",
        "global-mag-grad",
        "layer-mag-grad",
        "global-mag-act",
        "layer-mag-act",
    ]
    assert get_baseline("layer-mag-act") is LayerMagAct


def test_a_baseline_is_also_found_by_its_class_name():
    assert get_baseline("LayerMagAct") is LayerMagAct
    assert baseline_name("RandomPruning") == "random"


def test_an_unknown_baseline_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown baseline 'magnitude'; known: random, global-mag-weight"):
        get_baseline("magnitude")


@pytest.mark.parametrize("compression", [1, 2, 8, 64])
@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_keeps_exactly_the_allowed_count(name, compression):
    model = small_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    strategy, mask = run(BASELINES[name], model, compression)
    n = mask.total()
    if compression == 1:
        assert mask.kept() == n
    if name in LAYERWISE:
        for param, kept in mask.kept_by_parameter().items():
            assert kept == round(strategy.fraction * mask[param].size), param
        assert abs(mask.kept() - round(strategy.fraction * n)) <= len(mask)
    else:
        assert mask.kept() == round(strategy.fraction * n)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_random_pruning_is_reproducible_by_seed():
    _, first = run(RandomPruning, small_cnn(), 8, seed=1)
    _, again = run(RandomPruning, small_cnn(), 8, seed=1)
    _, other = run(RandomPruning, small_cnn(), 8, seed=2)
    assert first == again and first.sha256() == again.sha256()
    assert first != other


def test_random_pruning_spreads_over_every_layer():
    _, mask = run(RandomPruning, small_cnn(), 2)
    shares = [kept / mask[p].size for p, kept in mask.kept_by_parameter().items()]
    assert all(0.3 < share < 0.7 for share in shares)


def test_global_magnitude_keeps_the_largest_weights_of_the_whole_model():
    model = small_cnn()
    _, mask = run(GlobalMagWeight, model, 8)
    weights = dict(model.named_parameters())
    kept = np.concatenate([weights[p].detach().abs().numpy()[mask[p]] for p in mask])
    dropped = np.concatenate([weights[p].detach().abs().numpy()[~mask[p]] for p in mask])
    assert kept.min() >= dropped.max()


def test_layer_magnitude_keeps_the_largest_weights_of_each_layer():
    model = small_cnn()
    _, mask = run(LayerMagWeight, model, 8)
    weights = dict(model.named_parameters())
    for p in mask:
        magnitude = weights[p].detach().abs().numpy()
        assert magnitude[mask[p]].min() >= magnitude[~mask[p]].max()


def tiny_linear():
    model = nn.Sequential(nn.Linear(3, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]))
    inputs = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 1.5], [2.0, 0.5, -0.5], [-1.0, 1.0, 1.0]])
    return model, (inputs, torch.tensor([0, 1, 1, 0]))


def top(importance, count):
    keep = np.zeros(importance.size, bool)
    keep[np.argsort(-importance.ravel())[:count]] = True
    assert np.unique(importance).size == importance.size  # no ties: the expectation is unambiguous
    return keep.reshape(importance.shape)


@pytest.mark.parametrize("cls", [GlobalMagGrad, LayerMagGrad])
def test_gradient_baselines_keep_the_largest_weight_times_gradient(cls):
    model, (x, y) = tiny_linear()
    w = model[0].weight.detach().numpy().astype(np.float64)
    x64 = x.numpy().astype(np.float64)
    logits = x64 @ w.T
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    grad = (probs - np.eye(2)[y.numpy()]).T @ x64 / len(x64)
    _, mask = run(cls, model, compression=2, batch=(x, y))
    np.testing.assert_array_equal(mask["0.weight"], top(np.abs(w * grad), 3))


@pytest.mark.parametrize("cls", [GlobalMagAct, LayerMagAct])
def test_activation_baselines_on_a_linear_weight_each_input_feature_by_its_mean_activation(cls):
    model, (x, y) = tiny_linear()
    w = model[0].weight.detach().numpy()
    importance = np.abs(w) * np.abs(x.numpy().mean(0))[None, :]
    _, mask = run(cls, model, compression=3, batch=(x, y))
    np.testing.assert_array_equal(mask["0.weight"], top(importance, 2))


@pytest.mark.parametrize("cls", [GlobalMagAct, LayerMagAct])
def test_activation_baselines_on_a_conv_weight_each_input_channel_by_its_mean_activation(cls):
    model = nn.Sequential(nn.Conv2d(2, 2, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -0.5], [0.25, 2.0]]).reshape(2, 2, 1, 1))
    x = torch.arange(24.0).reshape(3, 2, 2, 2) - 10.0
    per_channel = np.abs(x.numpy().mean(0)).mean(axis=(1, 2))  # mean over positions of |batch mean|
    importance = np.abs(model[0].weight.detach().numpy()) * per_channel[None, :, None, None]
    _, mask = run(cls, model, compression=2, batch=(x, torch.zeros(3, dtype=torch.long)))
    np.testing.assert_array_equal(mask["0.weight"], top(importance, 2))


def test_activation_importance_uses_the_channel_each_weight_reads_in_a_grouped_convolution():
    weight = np.ones((4, 2, 1, 1))  # groups=2: outputs 0-1 read channels 0-1, outputs 2-3 read 2-3
    activation = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1, 1)
    expected = np.array([[1, 2], [1, 2], [3, 4], [3, 4]], dtype=float).reshape(4, 2, 1, 1)
    np.testing.assert_array_equal(activation_importance(weight, activation), expected)


def test_global_magnitude_breaks_ties_without_keeping_extra_weights():
    model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        for layer in model:
            layer.weight.fill_(0.5)
    _, mask = run(GlobalMagWeight, model, compression=3, batch=(torch.zeros(1, 4), torch.zeros(1, dtype=torch.long)))
    assert mask.kept() == 8
