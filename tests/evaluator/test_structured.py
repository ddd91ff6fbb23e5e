"""The structured track: whole-channel masks only, and removing the channels computes what
masking them (with their biases and batch-norm shifts) computes."""

import numpy as np
import pytest
import torch

from evaluator.flops import prunable_modules
from evaluator.models import get_model
from evaluator.pruning import Mask, MaskError
from evaluator.structured import channel_masks, check_channel_masks, pruned_channels, remove_channels, structured_reach

from .nets import residual_net


def channel_mask(model, cut: dict[str, list[int]]) -> Mask:
    """All ones, but the listed output channels of the named weights pruned whole."""
    arrays = {}
    for name in prunable_modules(model).values():
        array = np.ones(dict(model.named_parameters())[name].shape, bool)
        array[cut.get(name, [])] = False
        arrays[name] = array
    return Mask.validate(model, arrays)


def random_cut(model, share=0.5, seed=0) -> dict[str, list[int]]:
    """Half the channels of every layer but the classifier (channel 0 always kept)."""
    rng = np.random.default_rng(seed)
    names = list(prunable_modules(model).values())
    params = dict(model.named_parameters())
    return {name: [j for j in range(1, params[name].shape[0]) if rng.random() < share] for name in names[:-1]}


def masked_output(model, mask, x, zero_bias=True):
    clone = get_model_copy(model)
    with torch.no_grad():
        for name, p in clone.named_parameters():
            if name in mask:
                p.mul_(torch.tensor(mask[name], dtype=p.dtype))
                bias = dict(clone.named_parameters()).get(name[:-len("weight")] + "bias")
                if zero_bias and bias is not None:
                    bias[torch.as_tensor(pruned_channels(mask[name]))] = 0
    return clone.eval()(x)


def get_model_copy(model):
    import copy
    return copy.deepcopy(model)


def test_a_mask_that_prunes_part_of_a_channel_is_refused_naming_layer_and_channel():
    model = get_model("digits_cnn")
    mask = dict(channel_mask(model, {"0.weight": [3]}))
    partial = mask["2.weight"].copy()
    partial[5, 0, 0, 0] = False
    mask["2.weight"] = partial
    with pytest.raises(MaskError, match=r"'2\.weight' prunes part of output channel 5 \(287 of 288"):
        check_channel_masks(model, Mask.validate(model, mask))


def test_a_whole_channel_mask_passes():
    model = get_model("digits_cnn")
    check_channel_masks(model, channel_mask(model, {"0.weight": [1, 2], "6.weight": [7]}))


def test_the_classifier_outputs_are_never_removed():
    model = get_model("digits_cnn")
    with pytest.raises(MaskError, match=r"'8\.weight' prunes output unit 4 of the classifier"):
        check_channel_masks(model, channel_mask(model, {"8.weight": [4]}))


def test_a_layer_with_no_channel_left_is_refused():
    model = get_model("mnist1d_cnn")
    with pytest.raises(MaskError, match=r"'2\.weight' prunes every output channel"):
        check_channel_masks(model, channel_mask(model, {"2.weight": list(range(128))}))


@pytest.mark.parametrize("name,shape", [("digits_cnn", (1, 8, 8)), ("mnist1d_cnn", (1, 40))])
def test_removing_channels_computes_what_masking_them_computes(name, shape):
    torch.manual_seed(0)
    model = get_model(name).eval()
    mask = channel_mask(model, random_cut(model))
    x = torch.randn(16, *shape)
    removed = remove_channels(model, mask, x)
    assert torch.allclose(removed(x), masked_output(model, mask, x), atol=1e-5, rtol=1e-4)
    kept = sum(p.numel() for p in removed.parameters())
    assert kept < 0.5 * sum(p.numel() for p in model.parameters())  # the next layers lost inputs too
    assert model(x).shape == removed(x).shape  # every class still there


def test_masking_without_zeroing_the_bias_would_differ_so_the_check_has_teeth():
    torch.manual_seed(0)
    model = get_model("digits_cnn").eval()
    mask = channel_mask(model, random_cut(model))
    x = torch.randn(16, 1, 8, 8)
    removed = remove_channels(model, mask, x)
    assert not torch.allclose(removed(x), masked_output(model, mask, x, zero_bias=False), atol=1e-5)


def test_a_residual_net_with_batch_norm_removes_coupled_channels_together():
    net = residual_net()
    # stem and both blocks' conv2 add into one stream: the same channels go from all three.
    mask = channel_mask(net, {"stem.weight": [2, 5], "block1.conv2.weight": [2, 5], "block2.conv2.weight": [2, 5],
                              "block1.conv1.weight": [0, 7], "block2.conv1.weight": [3]})
    x = torch.randn(4, 3, 8, 8)
    removed = remove_channels(net, mask, x)
    want = net_with_channels_zeroed(net, mask)(x)
    assert torch.allclose(removed(x), want, atol=1e-5, rtol=1e-4)
    assert removed.stem.out_channels == 6 and removed.block1.conv1.out_channels == 6
    assert removed.block2.conv1.out_channels == 7 and removed.fc.in_features == 6


def net_with_channels_zeroed(net, mask):
    """The masked net with the pruned channels' batch-norm scale and shift zeroed too."""
    clone = get_model_copy(net)
    pairs = {"stem.weight": "bn", "block1.conv1.weight": "block1.bn1", "block1.conv2.weight": "block1.bn2",
             "block2.conv1.weight": "block2.bn1", "block2.conv2.weight": "block2.bn2"}
    modules = dict(clone.named_modules())
    with torch.no_grad():
        for name, p in clone.named_parameters():
            if name in mask:
                p.mul_(torch.tensor(mask[name], dtype=p.dtype))
        for name, bn in pairs.items():
            cut = torch.as_tensor(pruned_channels(mask[name]))
            modules[bn].weight[cut] = 0
            modules[bn].bias[cut] = 0
        modules["stem"].bias[torch.as_tensor(pruned_channels(mask["stem.weight"]))] = 0
    return clone.eval()


def test_coupled_channels_pruned_in_one_layer_only_are_refused_naming_both():
    net = residual_net()
    mask = channel_mask(net, {"stem.weight": [2], "block1.conv2.weight": [2]})  # block2.conv2 keeps 2
    with pytest.raises(MaskError, match=r"'stem\.weight' and 'block2\.conv2\.weight' differ at output channel 2"):
        remove_channels(net, mask, torch.randn(2, 3, 8, 8))


def test_a_zero_padding_shortcut_s_stream_is_refused_not_misremoved():
    model = get_model("cifar_resnet20").eval()
    stream = ["conv1.weight"] + [f"layer{s}.{b}.conv2.weight" for s in (1, 2, 3) for b in range(3)]
    mask = channel_mask(model, {name: [1] for name in stream})
    with pytest.raises(MaskError, match=r"'conv1\.weight' prunes output channels of a stream the dependency "
                                        r"graph cannot follow: it joins 'layer3\.0\.conv2\.weight'"):
        remove_channels(model, mask, torch.randn(2, 3, 32, 32))


def test_a_resnet20_s_inner_channels_are_removed_exactly():
    torch.manual_seed(0)
    model = get_model("cifar_resnet20").eval()
    cut = {f"layer{s}.{b}.conv1.weight": [1, 4, 6] for s in (1, 2, 3) for b in range(3)}
    mask = channel_mask(model, cut)
    x = torch.randn(2, 3, 32, 32)
    removed = remove_channels(model, mask, x)  # raises RemovalMismatch on any difference
    assert removed.layer3[2].conv1.out_channels == 61 and removed.layer3[2].conv2.in_channels == 61


@pytest.mark.parametrize("model,reach", [("digits_cnn", 32), ("mnist1d_cnn", 8)])
def test_the_structured_targets_offer_the_compressions_channel_masks_can_reach(model, reach):
    from evaluator.benchmarks import COMPRESSIONS, get_benchmark

    target = get_benchmark(f"{model.replace('_', '-')}/structured")
    assert target.compressions == tuple(c for c in COMPRESSIONS if c <= structured_reach(model))
    assert max(target.compressions) == reach


def test_keep_sets_become_whole_channel_masks():
    model = get_model("digits_cnn")
    masks = channel_masks(model, {"0.weight": [0, 5], "6.weight": list(range(64))})
    assert set(masks) == {"0.weight", "2.weight", "6.weight", "8.weight"}
    assert pruned_channels(masks["0.weight"]).size == 30 and masks["0.weight"][5].all()
    assert masks["2.weight"].all() and masks["8.weight"].all()  # not named: kept whole
    check_channel_masks(model, Mask.validate(model, masks))


@pytest.mark.parametrize("keep,message", [({"0.bias": [1]}, r"keep set for '0\.bias': not a prunable weight"),
                                          ({"0.weight": [32]}, r"'0\.weight' holds 32, not a channel index in 0\.\.31"),
                                          ({"0.weight": ["1"]}, r"'0\.weight' holds '1'")])
def test_a_bad_keep_set_names_the_layer_and_the_index(keep, message):
    with pytest.raises(MaskError, match=message):
        channel_masks(get_model("digits_cnn"), keep)
