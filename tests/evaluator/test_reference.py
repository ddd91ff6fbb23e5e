"""The reference methods: each score worked out by hand on a tiny network, and their known properties."""

import numpy as np
import pytest
import torch
from torch import nn

from tests.evaluator.nets import calibration_batch, small_cnn

from evaluator.benchmarks import get_benchmark
from evaluator.models import get_model, model_input_shape
from evaluator.pruning import (BASELINES, GlobalMagGrad, GraSP, L1Filter, LAMP, Mask, REFERENCES, SNIP, SynFlow,
                               builtin_tier, get_builtin, get_reference, keep_count, lamp_scores, reference_name)
from evaluator.weights import verified_weights


def chain(*weights):
    """A bias-free Linear chain with the given weight matrices (out x in)."""
    layers = []
    for w in weights:
        w = torch.tensor(w, dtype=torch.float32)
        layer = nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            layer.weight.copy_(w)
        layers.append(layer)
    return nn.Sequential(*layers)


def masks(strategy):
    return [np.asarray(m["weight"]).tolist() for m in strategy.model_masks().values()]


def test_the_registry_names_every_reference_method_apart_from_the_baselines():
    assert list(REFERENCES) == ["snip", "grasp", "synflow", "lamp", "l1-filter"]
    assert not set(REFERENCES) & set(BASELINES)
    assert get_reference("SynFlow") is SynFlow and reference_name("L1Filter") == "l1-filter"
    assert get_builtin("lamp") is LAMP and builtin_tier("lamp") == "reference"
    assert builtin_tier("random") == "baseline"
    with pytest.raises(ValueError, match="known: snip, grasp"):
        get_reference("magnitude")


def test_snip_keeps_the_largest_normalised_connection_sensitivity():
    # |w * dL/dw| with L = CE; equal to global-mag-grad on the same batch (the normalisation
    # does not change the ranking).
    model = small_cnn()
    inputs, labels = calibration_batch()
    snip = SNIP(model, inputs, labels, compression=8).model_masks()
    grad = GlobalMagGrad(model, inputs, labels, compression=8).model_masks()
    assert all(np.array_equal(snip[m]["weight"], grad[m]["weight"]) for m in snip)


def test_snip_by_hand_on_a_single_logit_pair():
    # logits z = W x with W = [[a, b], [c, d]], x = (1, 2), label 0; softmax p = (p0, p1).
    # dL/dW = (p - onehot) x^T = [[p0 - 1, 2 (p0 - 1)], [p1, 2 p1]], and p1 = 1 - p0 = q, so
    # |w * g| = q * [[|a|, 2|b|], [|c|, 2|d|]]. W = [[3, 1], [-1, 0.5]]: q * [[3, 2], [1, 1]].
    # Keep 2 of 4 (compression 2): a and b.
    model = chain([[3.0, 1.0], [-1.0, 0.5]])
    strategy = SNIP(model, torch.tensor([[1.0, 2.0]]), torch.tensor([0]), compression=2)
    assert masks(strategy) == [[[1.0, 1.0], [0.0, 0.0]]]


class QuadraticGraSP(GraSP):
    """GraSP with L = 0.5 * output^2 so H g can be worked out by hand."""

    temperature = 1.0

    def loss(self, logits, targets):
        return 0.5 * (logits ** 2).sum()


def test_grasp_keeps_the_lowest_signed_score_minus_theta_hg():
    # out = b (a x1 + c x2), x = (1, 1): with u = a + c, L = b^2 u^2 / 2,
    # g = (b^2 u, b^2 u, b u^2) for (a, c, b), and
    # Hg_a = Hg_c = 2 b^4 u + 2 b^2 u^3,  Hg_b = 4 b^3 u^2 + b u^4.
    # a = 2, c = -3, b = 1: u = -1, Hg = (-4, -4, 5), S = -theta Hg = (8, -12, -5).
    # Keep 2 of 3 (compression 1.5): the LOWEST S, c and b. Ranking |S| would keep c and a;
    # keeping the highest S (the sign flipped) would keep a and b.
    model = chain([[2.0, -3.0]], [[1.0]])
    strategy = QuadraticGraSP(model, torch.ones(1, 2), torch.zeros(1), compression=1.5)
    scores = [s["weight"].tolist() for s in strategy.scores().values()]
    assert scores == [[[8.0, -12.0]], [[-5.0]]]
    assert masks(strategy) == [[[0.0, 1.0]], [[1.0]]]


def test_grasp_by_default_scores_the_cross_entropy_at_temperature_200():
    model = small_cnn()
    inputs, labels = calibration_batch()
    strategy = GraSP(model, inputs, labels, compression=4)
    mask = Mask.from_strategy_output(model, strategy.model_masks())
    assert mask.kept() == keep_count(strategy.fraction, mask.total())
    flat = np.concatenate([s["weight"].ravel() for s in strategy.scores().values()])
    kept = np.concatenate([mask[n].ravel() for n in mask]).astype(bool)
    assert flat[kept].max() <= flat[~kept].min()  # kept the lowest signed scores
    assert (flat < 0).any() and (flat > 0).any()


def test_synflow_one_round_scores_dr_dtheta_times_theta_by_hand():
    # W1 = [[1, 2], [3, 0.5]], W2 = [[1, 4]], x = 1: R = 1*(1+2) + 4*(3+0.5) = 17.
    # S(W1_ji) = W2_j W1_ji = [[1, 2], [12, 2]]; S(W2_j) = W2_j sum_i W1_ji = [3, 14].
    # Keep 3 of 6 in one round: 14, 12, 3.
    model = chain([[1.0, 2.0], [3.0, 0.5]], [[1.0, 4.0]])
    strategy = SynFlow(model, compression=2, input_shape=(2,), num_classes=1)
    strategy.rounds = 1
    assert masks(strategy) == [[[0.0, 0.0], [1.0, 0.0]], [[1.0, 1.0]]]


def test_synflow_two_rounds_follow_the_exponential_schedule_by_hand():
    # Round 1 keeps round(6 * 0.5^(1/2)) = 4: 14, 12, 3 and the earlier 2 (W1_01).
    # Round 2 on W1 = [[0, 2], [3, 0]], W2 = [[1, 4]]: S(W1) = [[0, 2], [12, 0]],
    # S(W2) = [1*2, 4*3] = [2, 12]; keep 3: the two 12s and the earlier 2 (W1_01).
    model = chain([[1.0, 2.0], [-3.0, 0.5]], [[1.0, -4.0]])  # signs do not matter: |theta|
    strategy = SynFlow(model, compression=2, input_shape=(2,), num_classes=1)
    strategy.rounds = 2
    assert masks(strategy) == [[[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0]]]


@pytest.mark.parametrize("benchmark", ["digits-mlp", "digits-cnn", "mnist1d-cnn"])
def test_synflow_leaves_no_layer_empty_at_64x_on_the_embedded_benchmarks(benchmark):
    spec = get_benchmark(benchmark)
    model = get_model(spec.model)
    model.load_state_dict(verified_weights(spec)[0])
    model.eval()
    strategy = SynFlow(model, compression=64, input_shape=model_input_shape(spec.model), num_classes=10)
    mask = Mask.validate(model, Mask.from_strategy_output(model, strategy.model_masks()))
    assert mask.kept() == keep_count(strategy.fraction, mask.total())
    assert min(mask.kept_by_parameter().values()) > 0, mask.kept_by_parameter()


def test_lamp_scores_each_weight_by_its_square_over_the_larger_squares_of_its_layer():
    # Layer A = [0.1, 0.2, 0.3]: squares 1, 4, 9 (x 0.01) -> 1/14, 4/13, 9/9.
    # Layer B = [10, 5]: squares 100, 25 -> 1, 25/125.
    np.testing.assert_allclose(lamp_scores([[0.1, 0.2, 0.3]]), [[1 / 14, 4 / 13, 1.0]])
    np.testing.assert_allclose(lamp_scores([[10.0], [-5.0]]), [[1.0], [0.2]])


def test_lamp_keeps_the_largest_scores_across_layers_where_magnitude_would_not():
    # Keep 3 of 5: scores 1 (0.3), 1 (10), 4/13 (0.2) beat 0.2 (5) and 1/14 (0.1).
    # Global magnitude would keep 10, 5 and 0.3.
    model = chain([[0.1, 0.2, 0.3]], [[10.0], [-5.0]])
    assert masks(LAMP(model, compression=5 / 3)) == [[[0.0, 1.0, 1.0]], [[1.0], [0.0]]]


def test_l1_filter_keeps_the_filters_with_the_largest_l1_norm_in_each_layer_and_the_classifier_whole():
    # Layer 1 (4 neurons of 2 weights), L1 norms 3, 1, 6, 1; layer 2 (2 neurons of 4): 4, 8; the
    # classifier (2 weights) is kept. Compression 1.5 of 18 weights: budget 12, 10 for layers 1-2.
    # The same share r in both: r = 3/4 keeps 3 and 1 neurons (6 + 4 = 10 weights); r = 1 does not
    # fit. Layer 1 keeps norms 6, 3 and the earlier of the two 1s; layer 2 keeps the norm 8.
    model = chain([[1, 2], [0, 1], [3, -3], [-1, 0]], [[1, 1, 1, -1], [2, -2, 2, 2]], [[5, -5]])
    assert masks(L1Filter(model, compression=1.5)) == [
        [[1, 1], [1, 1], [1, 1], [0, 0]],
        [[0, 0, 0, 0], [1, 1, 1, 1]],
        [[1, 1]],
    ]


@pytest.mark.parametrize("compression", [2, 4, 8, 16, 32, 64])
@pytest.mark.parametrize("model_name", ["digits_mlp", "digits_cnn", "mnist1d_cnn"])
def test_l1_filter_prunes_whole_output_channels_only_and_reaches_the_compression(model_name, compression):
    torch.manual_seed(0)
    model = get_model(model_name)
    # The most it can prune: the classifier whole, one filter in every other layer, the biases.
    weights = [m.weight for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]
    total = sum(p.numel() for p in model.parameters())
    least = total - sum(w.numel() for w in weights) + weights[-1].numel() + sum(w[0].numel() for w in weights[:-1])
    if compression > total / least:
        with pytest.raises(ValueError, match=f"largest reachable compression is {int(total / least * 100) / 100:g}x"):
            L1Filter(model, compression=compression).model_masks()
        return
    strategy = L1Filter(model, compression=compression)
    mask = Mask.validate(model, Mask.from_strategy_output(model, strategy.model_masks()))
    for name in mask:
        rows = mask[name].reshape(mask[name].shape[0], -1)
        assert np.all(rows.all(axis=1) | ~rows.any(axis=1)), name
        assert rows.any(), name
    assert mask.kept() <= keep_count(strategy.fraction, mask.total())
    assert mask[list(mask)[-1]].all()


@pytest.mark.parametrize("name", list(REFERENCES))
@pytest.mark.parametrize("compression", [1, 4, 64])
def test_every_reference_method_gives_valid_masks_within_the_budget(name, compression):
    model = small_cnn()
    inputs, labels = calibration_batch()
    strategy = get_reference(name)(model, inputs, labels, compression=compression, seed=0)
    if strategy.pattern == "channels" and compression > 1:
        # Whole filters with the classifier (5,760 weights) kept: at most 8,554 / (58 non-prunable
        # + 5,760 + one filter of 27 and one of 144) = 1.42x on this network.
        with pytest.raises(ValueError, match="largest reachable compression is 1.42x"):
            strategy.model_masks()
        return
    mask = Mask.validate(model, Mask.from_strategy_output(model, strategy.model_masks()))
    assert mask.kept() <= keep_count(strategy.fraction, mask.total())
