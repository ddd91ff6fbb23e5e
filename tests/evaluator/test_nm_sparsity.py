"""N:M masks and the 2:4 magnitude baseline (`nm-magnitude`), worked by hand and on the embedded models."""

import numpy as np
import pytest
import torch

from tests.evaluator.test_reference import chain, masks

from evaluator.models import get_model
from evaluator.pruning import Mask, NMMagnitude, get_builtin, n_m_masks


def test_it_keeps_the_two_largest_magnitudes_of_every_four_consecutive_inputs():
    weight = np.array([[1, -4, 3, 2, 0, 0, 5, -5],
                       [-9, 1, 1, 8, 2, 0, -1, 0]], dtype=float)
    assert n_m_masks(weight, 2, 4).tolist() == [[0, 1, 1, 0, 0, 0, 1, 1],
                                                [1, 0, 0, 1, 1, 0, 1, 0]]


def test_ties_go_to_the_earlier_weight_of_the_group_and_nan_ranks_last():
    assert n_m_masks(np.array([[2.0, 2.0, 2.0, 2.0]]), 2, 4).tolist() == [[1, 1, 0, 0]]
    assert n_m_masks(np.array([[0.0, 0.0, 0.0, 1.0]]), 2, 4).tolist() == [[1, 0, 0, 1]]
    assert n_m_masks(np.array([[np.nan, 1.0, 3.0, -2.0]]), 2, 4).tolist() == [[0, 0, 1, 1]]


def test_a_convolutions_groups_run_along_its_input_channels_at_each_kernel_position():
    weight = np.zeros((1, 4, 1, 2))
    weight[0, :, 0, 0] = [1, 2, 3, 4]
    weight[0, :, 0, 1] = [4, 3, 2, 1]
    mask = n_m_masks(weight, 2, 4)
    assert mask.shape == weight.shape
    assert mask[0, :, 0, 0].tolist() == [0, 0, 1, 1] and mask[0, :, 0, 1].tolist() == [1, 1, 0, 0]
    assert n_m_masks(weight, 1, 2)[0, :, 0, 0].tolist() == [0, 1, 0, 1]  # the general N:M


@pytest.mark.parametrize("weight, n, m, message", [
    (np.ones((2, 6)), 2, 4, "the input dimension 6 .* is not a multiple of 4"),
    (np.ones(8), 2, 4, "groups run along dim 1"),
    (np.ones((2, 4)), 3, 2, "0 <= n <= m"),
    (np.ones((2, 4)), 2, 0, "m >= 1"),
    (np.ones((2, 4)), 2.0, 4, "integers"),
])
def test_it_refuses_what_has_no_n_m_groups(weight, n, m, message):
    with pytest.raises(ValueError, match=message):
        n_m_masks(weight, n, m)


def test_nm_magnitude_leaves_a_layer_whose_inputs_are_not_a_multiple_of_four_dense():
    # Layer 1 reads 2 inputs: dense. Layer 2 (the classifier too) reads 4: 2 of each 4 kept.
    model = chain([[1, 2], [3, 4], [5, 6], [7, 8]], [[1, -3, 2, 0], [4, 4, 4, 4]])
    strategy = NMMagnitude(model, compression=2)
    assert strategy.pattern == "2:4" and get_builtin("nm-magnitude") is NMMagnitude
    assert masks(strategy) == [[[1, 1], [1, 1], [1, 1], [1, 1]], [[0, 1, 1, 0], [1, 1, 0, 0]]]


@pytest.mark.parametrize("model_name", ["digits_cnn", "mnist1d_cnn", "digits_mlp"])
def test_nm_magnitude_keeps_exactly_two_of_every_four_where_the_inputs_allow(model_name):
    torch.manual_seed(0)
    model = get_model(model_name)
    mask = Mask.from_strategy_output(model, NMMagnitude(model, compression=2).model_masks())
    for name, array in mask.items():
        if array.shape[1] % 4:
            assert array.all(), name  # a first convolution over 1 channel: dense
            continue
        groups = np.moveaxis(array, 1, -1).reshape(-1, 4).sum(axis=1)
        assert (groups == 2).all(), name
    assert mask.kept() < mask.total()
