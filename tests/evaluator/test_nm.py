"""The 2:4 track's masks: at most 2 kept of every 4 consecutive weights along the input dimension."""

import numpy as np
import pytest
import torch

from evaluator.models import get_model
from evaluator.nm import check_nm_masks, nm_layers, realize_nm
from evaluator.pruning import Mask, MaskError


def two_of_four(model) -> dict[str, np.ndarray]:
    """Keep input channels 0 and 1 of every group of 4 in each 2:4 layer; the others dense."""
    out = {}
    for name, sparse in nm_layers(model).items():
        shape = dict(model.named_parameters())[name].shape
        array = np.ones(shape, bool)
        if sparse:
            array[:, 2::4] = False
            array[:, 3::4] = False
        out[name] = array
    return out


def test_a_first_conv_on_one_channel_has_no_2_4_layout():
    assert nm_layers(get_model("digits_cnn")) == {"0.weight": False, "2.weight": True, "6.weight": True,
                                                  "8.weight": True}


def test_a_2_4_mask_passes():
    model = get_model("digits_cnn")
    check_nm_masks(model, Mask.validate(model, two_of_four(model)))


def test_three_of_four_is_refused_naming_layer_group_and_values():
    model = get_model("digits_cnn")
    masks = two_of_four(model)
    masks["2.weight"][7, 10, 1, 2] = True  # output 7, input channels 8..11 at kernel (1, 2): 1 1 1 0
    with pytest.raises(MaskError, match=r"'2\.weight' keeps more than 2 of 4 in group 2 \(output 7, kernel "
                                        r"position \(1, 2\), input channels 8\.\.11\): \[1, 1, 1, 0\]"):
        check_nm_masks(model, Mask.validate(model, masks))


def test_a_linear_layer_s_bad_group_is_named_without_a_kernel_position():
    model = get_model("digits_mlp")
    masks = two_of_four(model)
    masks["3.weight"][0, 4:8] = True
    with pytest.raises(MaskError, match=r"'3\.weight' keeps more than 2 of 4 in group 1 \(output 0, input "
                                        r"channels 4\.\.7\): \[1, 1, 1, 1\]"):
        check_nm_masks(model, Mask.validate(model, masks))


def test_pruning_a_layer_without_a_2_4_layout_is_refused():
    model = get_model("mnist1d_cnn")
    masks = two_of_four(model)
    masks["0.weight"][3] = False
    with pytest.raises(MaskError, match=r"'0\.weight' prunes weights of a layer with 1 input channels"):
        check_nm_masks(model, Mask.validate(model, masks))


def test_the_network_run_does_half_the_macs_of_each_2_4_layer():
    model = get_model("digits_mlp")
    realized = realize_nm(model, Mask.validate(model, two_of_four(model)), torch.zeros(2, 1, 8, 8))
    dense = 64 * 512 + 512 * 512 + 512 * 10
    assert realized.macs == dense // 2
    assert realized.params == sum(p.numel() for p in model.parameters()) - dense // 2
    assert realized.masks is not None  # held, as on the default track
