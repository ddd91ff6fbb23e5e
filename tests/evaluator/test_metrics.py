"""evaluator.metrics: size, FLOPs (MACs) and memory of one sample, dense and masked."""

import numpy as np
import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from evaluator.metrics import (
    ModelMetrics,
    collapsed_layers,
    layer_sparsity,
    model_metrics,
    prunable_parameters,
)


def conv1d_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(1, 8, 5, padding=2),
        nn.ReLU(),
        nn.Conv1d(8, 16, 3, stride=2, groups=2),  # 40 -> 19 positions
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 19, 10),
    )


class TwiceLinear(nn.Module):
    """One Linear layer applied two times in a forward pass."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.fc(x)))


class ModeRecorder(nn.Module):
    """Records whether it ran in training mode."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.seen_training = None

    def forward(self, x):
        self.seen_training = self.training
        return self.fc(x)


def linear_keeping_two_of_six() -> tuple[nn.Module, dict]:
    return nn.Linear(3, 2), {"weight": torch.tensor([[1, 0, 0], [0, 1, 0]])}


def test_it_counts_size_and_macs_of_a_single_linear_layer():
    m = model_metrics(nn.Linear(3, 2), torch.ones(3))
    assert (m.size, m.size_nz, m.flops, m.flops_nz) == (8, 8, 6, 6)
    assert (m.compression, m.speedup) == (1.0, 1.0)


def test_it_scales_size_and_macs_to_the_weights_a_mask_keeps():
    model, masks = linear_keeping_two_of_six()
    m = model_metrics(model, torch.ones(3), masks)
    assert (m.size, m.size_nz, m.flops, m.flops_nz) == (8, 4, 6, 2)
    assert (m.compression, m.speedup) == (2.0, 3.0)


def test_it_counts_conv_macs_with_stride_and_padding():
    m = model_metrics(nn.Conv2d(2, 4, 3, stride=2, padding=1), torch.ones(2, 5, 5))
    assert m.flops == 9 * 4 * 2 * 9  # output 4x3x3, 2*3*3 MACs per output element


def test_it_counts_conv_macs_with_dilation():
    m = model_metrics(nn.Conv2d(1, 1, 3, dilation=2), torch.ones(1, 7, 7))
    assert m.flops == 3 * 3 * 9  # effective kernel 5 -> output 3x3


def test_it_counts_depthwise_conv_macs_per_group():
    m = model_metrics(nn.Conv2d(4, 4, 3, padding=1, groups=4), torch.ones(4, 5, 5))
    assert m.flops == 4 * 5 * 5 * 9  # each output element sees one input channel


def test_it_counts_conv1d_macs():
    m = model_metrics(nn.Conv1d(2, 3, 3), torch.ones(2, 10))
    assert m.flops == 3 * 8 * 2 * 3


def test_it_counts_masked_conv_macs_at_every_output_position():
    conv = nn.Conv2d(2, 4, 3, stride=2, padding=1)
    mask = torch.zeros(4, 2, 3, 3)
    mask[0, 0, 1, 1] = mask[3, 1, 0, 2] = 1
    m = model_metrics(conv, torch.ones(2, 5, 5), {"weight": mask})
    assert m.flops_nz == 9 * 2
    assert m.speedup == 648 / 18


def test_it_counts_a_module_called_twice_twice():
    m = model_metrics(TwiceLinear(), torch.ones(4))
    assert m.flops == 2 * 16
    assert m.memory == 20 + 4 + 4 + 4  # params, input, two outputs of fc (relu is functional)


def test_it_counts_linear_macs_at_every_position_of_a_sequence():
    m = model_metrics(nn.Linear(3, 2), torch.ones(5, 3))
    assert m.flops == 5 * 6


def test_it_computes_memory_of_a_tiny_net_by_hand():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 1, 1], [-1, -1, -1]]))
        model[0].bias.zero_()
    # input [1,1,1] -> linear [3,-3] -> relu [3,0]; the Sequential is not a leaf.
    m = model_metrics(model, torch.ones(3))
    assert m.memory == 8 + 3 + 2 + 2
    assert m.memory_nz == 8 + 3 + 2 + 1
    assert (m.memory_bytes, m.memory_nz_bytes) == (4 * 15, 4 * 14)


def test_it_counts_nonzero_activations_with_the_masks_applied():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.zero_()
    m = model_metrics(model, torch.ones(3), {"0.weight": torch.tensor([[1, 1, 1], [0, 0, 0]])})
    assert m.memory_nz == 5 + 3 + 1 + 1  # linear [3,0] -> relu [3,0]


@pytest.mark.parametrize(
    "build, shape",
    [
        (torchvision.models.resnet18, (3, 64, 64)),
        (torchvision.models.vgg16, (3, 32, 32)),
        (torchvision.models.mobilenet_v2, (3, 64, 64)),
        (conv1d_net, (1, 40)),
    ],
    ids=["resnet18", "vgg16", "mobilenet_v2", "conv1d_net"],
)
def test_it_matches_torchs_flop_counter(build, shape):
    model = build().eval()
    example = torch.randn(shape)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(example.unsqueeze(0))
    assert 2 * model_metrics(model, example).flops == counter.get_total_flops()


def test_it_leaves_the_models_weights_untouched():
    model = torchvision.models.resnet18(num_classes=10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    masks = {name: torch.rand_like(p) > 0.5 for name, p in prunable_parameters(model).items()}
    model_metrics(model, torch.randn(3, 32, 32), masks)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_it_runs_in_eval_mode_and_restores_each_modules_mode():
    model = nn.Sequential(ModeRecorder(), nn.BatchNorm1d(2), nn.Dropout())
    model.train()
    model[1].eval()  # a frozen BatchNorm stays frozen
    model_metrics(model, torch.ones(2))
    assert model[0].seen_training is False
    assert [m.training for m in [model, *model]] == [True, True, False, True]


def test_it_gives_the_same_result_for_numpy_and_torch_masks():
    model = conv1d_net()
    masks = {name: torch.rand_like(p) > 0.3 for name, p in prunable_parameters(model).items()}
    as_numpy = {name: mask.numpy().astype(np.float32) for name, mask in masks.items()}
    example = torch.randn(1, 40)
    assert model_metrics(model, example, masks) == model_metrics(model, example, as_numpy)


def test_it_rejects_a_mask_for_an_unknown_parameter():
    with pytest.raises(ValueError, match="fc9.weight"):
        model_metrics(nn.Linear(3, 2), torch.ones(3), {"fc9.weight": np.ones((2, 3))})


def test_it_rejects_a_mask_for_a_parameter_that_is_not_prunable():
    with pytest.raises(ValueError, match="'bias'.*not prunable"):
        layer_sparsity(nn.Linear(3, 2), {"bias": np.ones(2)})


def test_it_rejects_a_mask_of_the_wrong_shape():
    with pytest.raises(ValueError, match="'weight' has shape"):
        model_metrics(nn.Linear(3, 2), torch.ones(3), {"weight": np.ones((3, 2))})


def test_it_lists_conv_and_linear_weights_as_prunable_in_model_order():
    assert list(prunable_parameters(conv1d_net())) == ["0.weight", "2.weight", "5.weight"]


def test_it_reports_per_layer_sparsity_of_a_hand_made_mask():
    masks = {"0.weight": np.zeros((8, 1, 5)), "5.weight": np.eye(10, 16 * 19)}
    assert layer_sparsity(conv1d_net(), masks) == {
        "0.weight": 1.0,
        "2.weight": 0.0,
        "5.weight": 1.0 - 10 / (10 * 16 * 19),
    }


def test_it_lists_layers_whose_mask_keeps_nothing_as_collapsed():
    masks = {"0.weight": np.zeros((8, 1, 5)), "5.weight": np.eye(10, 16 * 19)}
    assert collapsed_layers(conv1d_net(), masks) == ["0.weight"]
    assert collapsed_layers(conv1d_net(), None) == []


def test_it_serialises_metrics_as_a_flat_dict():
    model, masks = linear_keeping_two_of_six()
    assert model_metrics(model, torch.ones(3), masks).as_dict() == {
        "size": 8, "size_nz": 4, "compression": 2.0, "flops": 6, "flops_nz": 2,
        "speedup": 3.0, "memory": 13, "memory_nz": 9,
    }
    assert isinstance(model_metrics(model, torch.ones(3)), ModelMetrics)
