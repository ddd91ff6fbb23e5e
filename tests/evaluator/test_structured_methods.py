"""The structured built-ins: each score and mask worked out by hand on a tiny network, and the
rules they share on the embedded CNNs (whole output channels, classifier kept, compression met)."""

import numpy as np
import pytest
import torch
from torch import nn

from tests.evaluator.test_reference import chain, masks

from evaluator.models import get_model, model_input_shape
from evaluator.pruning import (BASELINES, FPGM, REFERENCES, STRUCTURED, BNSlimming, ChannelPruning, L1Filter,
                               L1FilterGlobal, Mask, RandomFilters, TaylorFilters, TaylorFiltersGlobal, builtin_tier,
                               builtins_with_pattern, fpgm_scores, get_builtin, keep_count, reference_name,
                               taylor_scores)
from evaluator.pruning.channels import global_keep, uniform_counts

CHANNEL_METHODS = [name for name in ("l1-filter", *STRUCTURED) if get_builtin(name).pattern == "channels"]
WITHOUT_BN = [name for name in CHANNEL_METHODS if name != "bn-slimming"]


def test_the_structured_methods_are_registered_by_name_off_the_default_boards():
    assert list(STRUCTURED) == ["random-filters", "l1-filter-global", "fpgm", "taylor-filters",
                                "taylor-filters-global", "bn-slimming", "nm-magnitude"]
    assert not set(STRUCTURED) & (set(REFERENCES) | set(BASELINES))  # REFERENCES is what seeds the boards
    assert builtins_with_pattern("channels") == ["l1-filter", *list(STRUCTURED)[:-1]]
    assert builtins_with_pattern("2:4") == ["nm-magnitude"]
    assert builtins_with_pattern("unstructured") == [*BASELINES, "snip", "grasp", "synflow", "lamp"]
    assert get_builtin("fpgm") is FPGM and builtin_tier("bn-slimming") == "reference"
    assert reference_name("TaylorFiltersGlobal") == "taylor-filters-global"
    with pytest.raises(ValueError, match="unknown mask pattern '4:8'; known: 2:4, channels, unstructured"):
        builtins_with_pattern("4:8")


def test_each_structured_method_but_the_random_control_names_its_paper():
    papers = {name: getattr(get_builtin(name), "paper", None) for name in STRUCTURED}
    assert papers.pop("random-filters") is None
    assert {p.year for p in papers.values()} == {2017, 2019, 2021}
    assert all(p.granularity == "structured" and p.bibtex.startswith("@") for p in papers.values())


def test_uniform_counts_keep_one_share_then_fill_what_still_fits():
    # Layers of 4 channels of 1 weight and 2 channels of 4, room for 8 weights. Shares j/4, j/2:
    # r = 1 needs 4 + 8 = 12; r = 3/4 keeps 3 and floor(1.5) = 1: 3 + 4 = 7 fits. Then the layer
    # with the smaller share (2nd, 1/2) needs 4 more weights, which do not fit; the 1st's last
    # channel does (8).
    assert uniform_counts([4, 2], [1, 4], 8) == [4, 1]
    assert uniform_counts([4, 2], [1, 4], 5) == [1, 1]  # r = 1/4: one each (1 + 4); nothing else fits


def test_global_keep_keeps_each_layers_best_then_one_threshold_until_the_budget():
    # Each layer's best first (scores 9 and 5: 2 + 3 weights), then 4 (2 weights: 7), then 3 would
    # need 3 more (10 > 9): stop there, although the 1 after it would still fit.
    assert global_keep([np.array([1.0, 9.0, 4.0]), np.array([3.0, 5.0])], [2, 3], 9) == [[1, 2], [1]]


def test_global_keep_breaks_ties_by_layer_then_channel_and_ranks_nan_last():
    scores = [np.array([2.0, 1.0, np.nan]), np.array([1.0, 2.0])]
    assert global_keep(scores, [1, 1], 3) == [[0, 1], [1]]  # the tied 1s: the earlier layer's
    assert global_keep(scores, [1, 1], 4) == [[0, 1], [1, 0]]
    assert global_keep(scores, [1, 1], 5) == [[0, 1, 2], [1, 0]]


def test_l1_filter_global_ranks_norms_over_each_layers_mean():
    # Layer 1 norms 3, 1, 6, 1 (mean 2.75): 1.09, 0.36, 2.18, 0.36; layer 2 norms 4, 8 (mean 6):
    # 0.67, 1.33. Room 10 (compression 1.5 of 18, classifier 2): the bests (2 + 4 weights), then
    # 1.09 (8), then 0.67 needs 4 more: stop. Raw norms would keep layer 2's 4 before layer 1's 3.
    model = chain([[1, 2], [0, 1], [3, -3], [-1, 0]], [[1, 1, 1, -1], [2, -2, 2, 2]], [[5, -5]])
    assert masks(L1FilterGlobal(model, compression=1.5)) == [
        [[1, 1], [0, 0], [1, 1], [0, 0]],
        [[0, 0, 0, 0], [1, 1, 1, 1]],
        [[1, 1]],
    ]


def test_fpgm_prunes_the_filters_nearest_the_others_not_the_smallest():
    # Layer 1's filters (x, 1) for x = 0, 1, 2, 10: sums of distances 13, 11, 11, 27. Keeping 3
    # (as for L1 above) prunes the later of the tied 11s, the filter (2, 1), although the filter
    # (0, 1) has the smallest norm. Layer 2's two filters score the same distance: the earlier stays.
    layer1 = [[0, 1], [1, 1], [2, 1], [10, 1]]
    assert fpgm_scores(np.array(layer1, dtype=float)).tolist() == [13, 11, 11, 27]
    model = chain(layer1, [[1, 1, 1, -1], [2, -2, 2, 2]], [[5, -5]])
    assert masks(FPGM(model, compression=1.5)) == [
        [[1, 1], [1, 1], [0, 0], [1, 1]],
        [[1, 1, 1, 1], [0, 0, 0, 0]],
        [[1, 1]],
    ]


def test_fpgm_scores_a_convolution_by_its_flattened_filters():
    weight = np.zeros((3, 2, 1, 2))
    weight[1, 0, 0, 0], weight[2, 1, 0, 1] = 3.0, 4.0  # filters 0, (3,0,0,0), (0,0,0,4): distances 3, 4, 5
    assert fpgm_scores(weight).tolist() == [7, 8, 9]


def taylor_net():
    # h = W1 x = (1, 2, 3) for x = (1, 1); logits W2 h = (3, 3), so softmax = (1/2, 1/2) and for
    # label 0, dL/dlogits = (-1/2, 1/2) and dL/dh = W2^T (-1/2, 1/2) = (-1/2, -1/2, 1/2).
    # dL/dW1 = dL/dh x^T; per neuron sum(g * w) = -1/2, -1, 3/2; squared 1/4, 1, 9/4.
    model = chain([[1, 0], [1, 1], [2, 1]], [[1, 1, 0], [0, 0, 1]])
    return model, torch.tensor([[1.0, 1.0]]), torch.tensor([0])


def test_taylor_filters_square_the_sum_of_gradient_times_weight_per_channel():
    model, x, y = taylor_net()
    grad = np.array([[-0.5, -0.5], [-0.5, -0.5], [0.5, 0.5]])
    assert taylor_scores(model[0].weight.detach().numpy(), grad).tolist() == [0.25, 1.0, 2.25]
    strategy = TaylorFilters(model, x, y, compression=1.2)  # 12 weights: budget 10, 4 for layer 1
    np.testing.assert_allclose(strategy.channel_scores(model[0]), [0.25, 1.0, 2.25])
    assert masks(strategy) == [[[0, 0], [1, 1], [1, 1]], [[1, 1, 1], [1, 1, 1]]]
    assert masks(TaylorFiltersGlobal(model, x, y, compression=1.2)) == masks(strategy)


def test_taylor_filters_global_ranks_raw_scores_across_layers():
    model = chain([[1, 0], [1, 1], [2, 1]], [[1, 1, 1]], [[1]])  # layer 2 has one channel: it stays
    strategy = TaylorFiltersGlobal(model, torch.ones(1, 2), torch.tensor([0]), compression=1)
    assert strategy.ranking == "global" and TaylorFilters.ranking == "uniform"
    assert all(np.asarray(m["weight"]).all() for m in strategy.model_masks().values())  # 1x keeps all


def slimming_net(second_bn=True):
    layers = [nn.Linear(2, 3, bias=False), nn.BatchNorm1d(3), nn.Linear(3, 2, bias=False)]
    layers += [nn.BatchNorm1d(2)] if second_bn else []
    model = nn.Sequential(*layers, nn.Linear(2, 1, bias=False)).eval()
    with torch.no_grad():
        layers[1].weight.copy_(torch.tensor([0.5, -2.0, 0.1]))
        if second_bn:
            layers[3].weight.copy_(torch.tensor([1.0, -0.3]))
    return model


def test_bn_slimming_prunes_the_smallest_gammas_under_one_global_threshold():
    # |gamma| 0.5, 2, 0.1 after layer 1 (2 weights a channel), 1, 0.3 after layer 2 (3 weights).
    # 24 parameters (14 prunable, 10 BN); compression 24/19: budget 9, 7 besides the classifier.
    # Each layer's best (2 + 3), then 0.5 (7), then 0.3 needs 3 more: stop.
    model = slimming_net()
    assert masks(BNSlimming(model, torch.ones(4, 2), compression=24 / 19)) == [
        [[1, 1], [1, 1], [0, 0]],
        [[1, 1, 1], [0, 0, 0]],
        [[1, 1]],
    ]


def test_bn_slimming_keeps_a_layer_without_batchnorm_whole():
    # Layer 2 has no BN: kept whole (6) with the classifier (2). 20 parameters, compression 1.25:
    # budget 10, so layer 1 keeps 2 weights: its largest |gamma|. At 2x it cannot fit one channel.
    model = slimming_net(second_bn=False)
    assert masks(BNSlimming(model, input_shape=(2,), compression=1.25)) == [
        [[0, 0], [1, 1], [0, 0]],
        [[1, 1, 1], [1, 1, 1]],
        [[1, 1]],
    ]
    # 6 BN + 8 kept whole + 2 = 16 of 20 parameters remain at best.
    with pytest.raises(ValueError, match="and the layers it cannot score kept whole .* compression is 1.25x"):
        BNSlimming(model, input_shape=(2,), compression=2).model_masks()


def test_bn_slimming_on_a_model_without_batchnorm_names_it_and_those_that_have_it():
    model = get_model("digits_cnn")
    with pytest.raises(ValueError) as error:
        BNSlimming(model, torch.zeros(2, 1, 8, 8), compression=2).model_masks()
    assert "the model digits_cnn has none" in str(error.value)
    assert ("registered models with BatchNorm: cifar_resnet110, cifar_resnet20, cifar_resnet32, cifar_resnet56, "
            "cifar_vgg, resnet18, resnet50") in str(error.value)


def test_random_filters_keep_the_uniform_counts_drawn_by_the_seed():
    model = chain([[1, 2], [0, 1], [3, -3], [-1, 0]], [[1, 1, 1, -1], [2, -2, 2, 2]], [[5, -5]])
    drawn = {seed: masks(RandomFilters(model, compression=1.5, seed=seed)) for seed in range(8)}
    for layer1, layer2, classifier in drawn.values():
        assert sorted(map(sum, layer1)) == [0, 2, 2, 2] and sorted(map(sum, layer2)) == [0, 4]  # 3 and 1 kept
        assert classifier == [[1, 1]]
    assert drawn[3] == masks(RandomFilters(model, compression=1.5, seed=3))
    assert len({str(m) for m in drawn.values()}) > 1  # the seed chooses which channels


def embedded(model_name):
    torch.manual_seed(0)
    model = get_model(model_name)
    generator = torch.Generator().manual_seed(1)
    inputs = torch.rand(32, *model_input_shape(model_name), generator=generator)
    return model, inputs, torch.randint(0, 10, (32,), generator=generator)


@pytest.mark.parametrize("compression", [2, 4, 8])
@pytest.mark.parametrize("model_name", ["digits_cnn", "mnist1d_cnn"])
@pytest.mark.parametrize("name", WITHOUT_BN)
def test_channel_masks_are_whole_output_channels_meet_the_compression_and_keep_the_classifier(
        name, model_name, compression):
    model, inputs, labels = embedded(model_name)
    strategy = get_builtin(name)(model, inputs, labels, compression=compression, seed=0)
    mask = Mask.from_strategy_output(model, strategy.model_masks())
    for param in list(mask)[:-1]:
        rows = mask[param].reshape(mask[param].shape[0], -1)
        assert np.all(rows.all(axis=1) | ~rows.any(axis=1)), param  # constant along every dim but 0
        assert rows.any(), param  # at least one channel
    assert mask[list(mask)[-1]].all()
    size = sum(p.numel() for p in model.parameters())
    assert mask.kept() <= keep_count(strategy.fraction, mask.total())
    assert size / (size - mask.total() + mask.kept()) >= compression


def test_bn_slimming_on_a_cifar_resnet_prunes_whole_channels_of_the_convolutions_with_bn():
    torch.manual_seed(0)
    model = get_model("cifar_resnet20")
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(-1, 1)
    strategy = BNSlimming(model, input_shape=(3, 32, 32), compression=2)
    assert len(strategy.channel_layers()) == 19  # every convolution is followed by its BN
    mask = Mask.from_strategy_output(model, strategy.model_masks())
    for param in list(mask)[:-1]:
        rows = mask[param].reshape(mask[param].shape[0], -1)
        assert np.all(rows.all(axis=1) | ~rows.any(axis=1)) and rows.any(), param
    assert mask["fc.weight"].all()
    gamma = model.bn1.weight.detach().abs()
    kept = mask["conv1.weight"].reshape(16, -1).all(axis=1)
    if kept.any() and (~kept).any():  # one threshold: every kept |gamma| beats every pruned one
        assert gamma[torch.from_numpy(kept)].min() >= gamma[torch.from_numpy(~kept)].max()


@pytest.mark.parametrize("name", WITHOUT_BN)
def test_a_channel_method_gives_the_same_masks_for_the_same_seed(name):
    model, inputs, labels = embedded("digits_cnn")
    def run():
        strategy = get_builtin(name)(model, inputs, labels, compression=4, seed=1)
        return Mask.from_strategy_output(model, strategy.model_masks())

    assert run() == run()


def test_a_compression_beyond_whole_channels_names_the_largest_reachable():
    # digits_cnn: 151,306 parameters; 234 biases + the classifier's 1,280 weights + one filter of
    # each other layer (9 + 288 + 1,024) = 2,835 remain at best: 53.37x.
    model, inputs, labels = embedded("digits_cnn")
    with pytest.raises(ValueError, match="FPGM cannot reach compression 64 .* largest reachable compression is 53.37x"):
        FPGM(model, inputs, labels, compression=64).model_masks()
    assert L1Filter(model, compression=53).model_masks()  # 53x still fits


class Given(ChannelPruning):
    """A strategy author's channel method: the scores it is given."""
    given: list = []

    def channel_scores(self, module):
        return self.given[self.prunable.index(module)]


def test_a_channel_method_ranks_nan_scores_last_and_refuses_scores_of_the_wrong_length():
    model = chain([[1, 2], [0, 1], [3, -3], [-1, 0]], [[1, 1, 1, -1], [2, -2, 2, 2]], [[5, -5]])
    nan = float("nan")
    assert masks(Given(model, compression=1.5, given=[[nan, 1, 2, 3], [nan, 0]]))[:2] == [
        [[0, 0], [1, 1], [1, 1], [1, 1]],
        [[0, 0, 0, 0], [1, 1, 1, 1]],
    ]
    with pytest.raises(ValueError, match="Given gave 3 channel scores for a layer of 4 channels"):
        Given(model, compression=1.5, given=[[1, 2, 3], [1, 2]]).model_masks()
