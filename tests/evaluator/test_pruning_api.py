"""The strategy API on `self`: policy, fraction, params, gradients, activations, helpers."""

import numpy as np
import pytest
import torch

from tests.evaluator.nets import calibration_batch, small_cnn
from torch import nn

from evaluator.pruning import (
    ActivationMixin,
    GradientMixin,
    LayerPruning,
    Pruning,
    VisionPruning,
    flatten_importances,
    fraction_mask,
    fraction_threshold,
    fraction_to_keep,
    global_fraction_masks,
    importance_masks,
    keep_count,
    map_importances,
    prunable_parameter_names,
    signed_threshold_mask,
    threshold_mask,
)
from evaluator.models import get_model
from evaluator.pruning import Mask
from evaluator.sandbox import StrategySource, compute_masks
from evaluator.strategy import strategy_masks




class Keep(Pruning):
    def model_masks(self):
        return {m: {"weight": np.ones_like(p["weight"])} for m, p in self.params().items()}


class Probe(GradientMixin, ActivationMixin, Keep):
    pass


def sizes(model):
    total = sum(p.numel() for p in model.parameters())
    prunable = sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    return total, prunable


def test_prunable_parameters_are_every_conv_and_linear_weight_classifier_included():
    assert prunable_parameter_names(small_cnn()) == ["0.weight", "3.weight", "6.weight"]
    strategy = Keep(small_cnn())
    assert [type(m) for m in strategy.prunable] == [nn.Conv2d, nn.Conv2d, nn.Linear]


@pytest.mark.parametrize("compression", [1, 2, 4, 8, 16, 32, 64])
def test_fraction_makes_the_whole_model_reach_the_compression(compression):
    model = small_cnn()
    total, prunable = sizes(model)
    fraction = Keep(model, compression=compression).fraction
    kept = round(fraction * prunable)
    assert abs(kept + (total - prunable) - total / compression) <= 1


def test_compression_one_keeps_every_weight():
    assert Keep(small_cnn(), compression=1).fraction == 1.0


def test_an_unreachable_compression_is_a_clear_value_error():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))  # 16 prunable, 12 non-prunable
    with pytest.raises(ValueError, match=r"compression 4 cannot be reached: the 12 non-prunable parameters"):
        Keep(model, compression=4)


@pytest.mark.parametrize("compression", [0.5, 0, -2, float("nan")])
def test_a_compression_below_one_is_refused(compression):
    with pytest.raises(ValueError, match="compression must be"):
        fraction_to_keep(compression, small_cnn(), [])


def test_extra_keywords_become_attributes_shrinkbench_style():
    strategy = Keep(small_cnn(), compression=2, seed=3, beta=0.5)
    assert (strategy.seed, strategy.beta, strategy.compression) == (3, 0.5, 2)
    assert Keep(small_cnn()).seed == 0


def test_a_keyword_that_would_shadow_the_api_is_refused():
    with pytest.raises(TypeError, match="params"):
        Keep(small_cnn(), params=1)


def test_pruning_and_layer_pruning_are_abstract_and_vision_pruning_is_pruning():
    assert VisionPruning is Pruning
    with pytest.raises(TypeError):
        Pruning(small_cnn())
    with pytest.raises(TypeError):
        LayerPruning(small_cnn())


def test_params_are_detached_numpy_copies_of_the_prunable_weights():
    model = small_cnn()
    strategy = Keep(model)
    params = strategy.params()
    assert list(params) == strategy.prunable
    assert all(list(p) == ["weight"] and isinstance(p["weight"], np.ndarray) for p in params.values())
    params[model[6]]["weight"][:] = 0
    assert model[6].weight.abs().sum() > 0
    assert strategy.module_params(model[6])["weight"].shape == (10, 576)
    assert strategy.params(native=False).keys() == params.keys()


def test_param_gradients_are_the_cross_entropy_gradients_on_the_calibration_batch():
    model = small_cnn()
    inputs, labels = calibration_batch()
    grads = Probe(model, inputs, labels).param_gradients()
    model.eval()
    nn.functional.cross_entropy(model(inputs), labels).backward()
    for module in (model[0], model[3], model[6]):
        assert list(grads[module]) == ["weight"]
        np.testing.assert_allclose(grads[module]["weight"], module.weight.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_activations_are_the_input_and_output_of_each_prunable_module():
    model = small_cnn()
    inputs, labels = calibration_batch()
    strategy = Probe(model, inputs, labels)
    acts = strategy.activations()
    assert list(acts) == strategy.prunable
    first_in, first_out = strategy.module_activations(model[0])
    np.testing.assert_array_equal(first_in, inputs.numpy())
    assert first_out.shape == (32, 16, 6, 6)
    assert acts[model[6]][0].shape == (32, 576)
    assert model[1] in strategy.activations(only_prunable=False)


def test_gradients_and_activations_leave_the_model_as_they_found_it():
    model = small_cnn().train()
    inputs, labels = calibration_batch()
    bn_mean = model[1].running_mean.clone()
    model[0].weight.requires_grad_(False)
    strategy = Probe(model, inputs, labels)
    strategy.param_gradients()
    strategy.activations()
    assert model.training and all(m.training for m in model.modules())
    assert torch.equal(model[1].running_mean, bn_mean)
    assert all(p.grad is None for p in model.parameters())
    assert not model[0].weight.requires_grad


def test_gradients_without_labels_are_a_clear_error():
    with pytest.raises(ValueError, match="calibration batch"):
        Probe(small_cnn()).param_gradients()


def test_layer_pruning_asks_layer_masks_for_every_prunable_module():
    seen = []

    class EveryLayer(LayerPruning):
        def layer_masks(self, module):
            seen.append(module)
            return {"weight": np.ones(module.weight.shape)}

    model = small_cnn()
    masks = EveryLayer(model).model_masks()
    assert seen == list(masks) == [model[0], model[3], model[6]]


def test_keep_count_rounds_and_clips():
    assert keep_count(0.25, 10) == 2 and keep_count(1.0, 7) == 7 and keep_count(0.0, 7) == 0
    with pytest.raises(ValueError):
        keep_count(1.5, 10)


def test_fraction_mask_keeps_exactly_the_count_even_when_everything_ties():
    mask = fraction_mask(np.zeros((4, 5)), 0.3)
    assert mask.shape == (4, 5) and mask.sum() == 6
    assert set(np.unique(mask)) <= {0.0, 1.0}


def test_fraction_mask_keeps_the_largest_magnitudes():
    values = np.array([0.1, -5.0, 0.3, 2.0, -0.2])
    np.testing.assert_array_equal(fraction_mask(values, 0.4), [0, 1, 0, 1, 0])


def test_fraction_threshold_with_threshold_mask_never_keeps_more_than_asked():
    values = np.array([3.0, 1.0, 1.0, 1.0, 0.5, 0.0])
    assert threshold_mask(values, fraction_threshold(values, 0.5)).sum() == 1  # the tie of 1s is dropped
    distinct = np.arange(10.0)
    assert threshold_mask(distinct, fraction_threshold(distinct, 0.3)).sum() == 3
    assert threshold_mask(distinct, fraction_threshold(distinct, 1.0)).sum() == 10
    assert threshold_mask(distinct, fraction_threshold(distinct, 0.0)).sum() == 0


def test_threshold_mask_keeps_magnitudes_at_or_above_the_threshold():
    np.testing.assert_array_equal(threshold_mask(np.array([-2.0, -0.5, 0.5, 1.0]), 1.0), [1, 0, 0, 1])


def test_importance_helpers_map_flatten_and_mask_every_array():
    importances = {"a": {"weight": np.array([[1.0, -4.0]])}, "b": {"weight": np.array([3.0, -2.0, 0.0])}}
    absolute = map_importances(np.abs, importances)
    np.testing.assert_array_equal(flatten_importances(absolute), [1, 4, 3, 2, 0])
    masks = importance_masks(absolute, 2.0)
    np.testing.assert_array_equal(masks["a"]["weight"], [[0, 1]])
    np.testing.assert_array_equal(masks["b"]["weight"], [1, 1, 0])
    exact = global_fraction_masks(absolute, 0.4)
    np.testing.assert_array_equal(exact["a"]["weight"], [[0, 1]])
    np.testing.assert_array_equal(exact["b"]["weight"], [1, 0, 0])


def test_input_shape_and_num_classes_come_from_the_harness_or_the_batch_and_classifier():
    inputs, _ = calibration_batch()
    assert Keep(small_cnn(), inputs).input_shape == (3, 8, 8)
    assert Keep(small_cnn()).num_classes == 10
    given = Keep(small_cnn(), input_shape=[3, 8, 8], num_classes=7)
    assert (given.input_shape, given.num_classes, given.pruning_params) == ((3, 8, 8), 7, [])


def test_signed_helpers_rank_the_score_itself_at_either_end():
    values = np.array([0.1, -5.0, 0.3, 2.0, -0.2])
    np.testing.assert_array_equal(fraction_mask(values, 0.4, signed=True), [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(fraction_mask(values, 0.4, signed=True, largest=False), [0, 1, 0, 0, 1])
    importances = {"a": {"weight": np.array([[1.0, -4.0]])}, "b": {"weight": np.array([3.0, -2.0, 0.0])}}
    lowest = global_fraction_masks(importances, 0.4, signed=True, largest=False)
    np.testing.assert_array_equal(lowest["a"]["weight"], [[0, 1]])
    np.testing.assert_array_equal(lowest["b"]["weight"], [0, 1, 0])
    assert signed_threshold_mask(values, fraction_threshold(values, 0.4, signed=True)).sum() == 2
    with pytest.raises(ValueError, match="signed=True"):
        fraction_mask(values, 0.4, largest=False)


# A strategy that leaves every kind of state behind it, and whose masks would show it: it keeps
# the largest weights when it finds the model as the harness promises, the smallest otherwise.
POLLUTER = """
import numpy as np
import torch
from evaluator.pruning import Pruning, fraction_mask

class Polluter(Pruning):
    jobs_seen = 0

    def model_masks(self):
        model = self.model
        clean = (not any(m.training for m in model.modules())
                 and all(p.dtype == torch.float32 and p.requires_grad for p in model.parameters())
                 and not any(m._forward_hooks for m in model.modules())
                 and type(self).jobs_seen == 0 and torch.is_grad_enabled()
                 and torch.get_default_dtype() == torch.float32
                 and float(self.inputs.abs().sum()) > 0
                 and self.input_shape == tuple(self.inputs.shape[1:]) and self.num_classes == 10)
        type(self).jobs_seen += 1
        model.double().train()
        model.register_forward_hook(lambda *a: None)
        for p in model.parameters():
            p.requires_grad_(False)
        self.inputs.zero_()
        torch.set_grad_enabled(False)
        torch.set_default_dtype(torch.float64)
        return {m: {"weight": fraction_mask(np.abs(p["weight"]) if clean else -np.abs(p["weight"]), self.fraction,
                                            signed=True)}
                for m, p in self.params().items()}
"""


def _digits_state():
    torch.manual_seed(0)
    return get_model("digits_mlp").state_dict()


def _digits_calibration():
    g = torch.Generator().manual_seed(0)
    return {s: (torch.rand(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g)) for s in (0, 1)}


def test_no_job_sees_what_an_earlier_job_left_behind_in_the_sandbox_child(tmp_path):
    path = tmp_path / "polluter.py"
    path.write_text(POLLUTER)
    state, calibration = _digits_state(), _digits_calibration()

    def run(jobs):
        return compute_masks(StrategySource(path=path), model_name="digits_mlp", num_classes=10,
                             state_dict=state, calibration=calibration, jobs=jobs)

    alone = [run([job])[0].sha256() for job in [(4.0, 0), (2.0, 1)]]
    clean = compute_masks(StrategySource(baseline="layer-mag-weight"), model_name="digits_mlp", num_classes=10,
                          state_dict=state, calibration=calibration, jobs=[(4.0, 0), (2.0, 1)])
    assert alone == [m.sha256() for m in clean]
    forwards, backwards = run([(4.0, 0), (2.0, 1), (4.0, 0)]), run([(2.0, 1), (4.0, 0)])
    assert [m.sha256() for m in forwards] == [alone[0], alone[1], alone[0]]
    assert [m.sha256() for m in backwards] == [alone[1], alone[0]]


def test_trusted_jobs_share_the_same_fresh_start_and_restore_class_attributes():
    namespace: dict = {"__name__": "polluter_module"}
    exec(compile(POLLUTER, "polluter.py", "exec"), namespace)
    import sys
    import types
    module = types.ModuleType("polluter_module")
    module.__dict__.update(namespace)
    sys.modules["polluter_module"] = module
    try:
        cls = module.Polluter
        state, calibration = _digits_state(), _digits_calibration()
        inputs, targets = calibration[0]

        def job():
            return strategy_masks(cls, lambda: get_model("digits_mlp"), state, inputs, targets, 4.0, 0, 10)

        first, second = job(), job()
        assert first == second and cls.jobs_seen == 0
        assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32
        assert float(inputs.abs().sum()) > 0
        from evaluator.pruning import LayerMagWeight
        assert first == strategy_masks(LayerMagWeight, lambda: get_model("digits_mlp"), state, inputs, targets,
                                       4.0, 0, 10)  # it found the model clean: the largest weights
    finally:
        del sys.modules["polluter_module"]


def test_the_readme_synflow_style_example_runs_data_free_and_keeps_the_fraction():
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / "docs" / "strategies.md").read_text()
    code = next(block.split("```")[0] for block in readme.split("```python\n") if "class IterativeSynFlow" in block)
    namespace: dict = {}
    exec(compile(code, "docs/strategies.md", "exec"), namespace)
    model = get_model("digits_mlp")
    strategy = namespace["IterativeSynFlow"](model, compression=8, input_shape=(1, 8, 8), num_classes=10)
    strategy.rounds = 5
    mask = Mask.from_strategy_output(model, strategy.model_masks())
    assert mask.kept() == keep_count(strategy.fraction, mask.total())
    assert all(kept > 0 for kept in mask.kept_by_parameter().values())
