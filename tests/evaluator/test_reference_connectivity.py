"""Effective compression: weights on an input-to-output path, counted by hand on small networks."""

import torch
from torch import nn

from evaluator.connectivity import effective_metrics, on_path


def ones(*shape):
    return torch.ones(*shape)


def chain():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def test_a_weight_whose_input_unit_is_cut_off_upstream_is_not_on_a_path():
    # Layer 1 keeps only row 0 (unit 0 gets input); layer 2 keeps columns 0 and 1 of both
    # outputs. Column 1 reads unit 1, which nothing feeds: those 2 weights are off every path.
    model = chain()
    m1 = torch.zeros(4, 3)
    m1[0] = 1
    m2 = torch.zeros(2, 4)
    m2[:, :2] = 1
    masks = {"0.weight": m1, "2.weight": m2}
    paths = on_path(model, ones(3), masks, ["0.weight", "2.weight"])
    assert paths["0.weight"].sum() == 3 and paths["2.weight"].tolist() == [[True, False, False, False]] * 2
    size, kept = 3 * 4 + 4 + 4 * 2 + 2, 3 + 4
    size_nz = size - (12 - 3) - (8 - 4)  # 17
    got = effective_metrics(model, ones(3), masks, size=size, size_nz=size_nz, flops=20)
    # effective: 3 + 2 weights, biases 6: 11 parameters; flops: 5 of 20 MACs.
    assert got == {"effective_compression": 26 / 11, "effective_speedup": 4.0, "disconnected": False}
    assert kept == 7


def test_a_weight_whose_output_reaches_nothing_downstream_is_not_on_a_path():
    # Layer 1 keeps all of rows 0 and 3; layer 2 reads only unit 0: row 3 (3 weights) is a dead end.
    model = chain()
    m1 = torch.zeros(4, 3)
    m1[[0, 3]] = 1
    m2 = torch.zeros(2, 4)
    m2[:, 0] = 1
    paths = on_path(model, ones(3), {"0.weight": m1, "2.weight": m2}, ["0.weight", "2.weight"])
    assert paths["0.weight"].sum() == 3 and paths["0.weight"][0].all() and paths["2.weight"].sum() == 2


def test_no_path_at_all_is_disconnected_even_with_every_layer_holding_weights():
    # Layer 1 feeds only unit 0, layer 2 reads only unit 3: weights in both layers, no path.
    model = chain()
    m1 = torch.zeros(4, 3)
    m1[0] = 1
    m2 = torch.zeros(2, 4)
    m2[:, 3] = 1
    got = effective_metrics(model, ones(3), {"0.weight": m1, "2.weight": m2}, size=26, size_nz=26 - 9 - 6, flops=20)
    assert got == {"effective_compression": 26 / 6, "effective_speedup": None, "disconnected": True}


class Residual(nn.Module):
    """y = fc2(relu(fc1(x)) + x): the skip connection is a path of its own."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 2, bias=False)
        self.fc2 = nn.Linear(2, 1, bias=False)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)) + x)


def test_the_skip_connection_of_a_residual_block_keeps_a_weight_on_a_path():
    # fc1 pruned entirely: the residual branch is dead, but fc2 still reads x through the skip,
    # so fc2's 2 weights are on a path and the network is connected (a layer collapse that still
    # computes). With fc2 keeping only its weight on unit 1 and fc1 keeping only row 0, fc1 is a
    # dead end (unit 0 goes nowhere): 1 effective weight of 3 kept.
    model = Residual()
    masks = {"fc1.weight": torch.zeros(2, 2), "fc2.weight": torch.ones(1, 2)}
    paths = on_path(model, ones(2), masks, ["fc1.weight", "fc2.weight"])
    assert paths["fc1.weight"].sum() == 0 and paths["fc2.weight"].sum() == 2
    masks = {"fc1.weight": torch.tensor([[1.0, 1.0], [0.0, 0.0]]), "fc2.weight": torch.tensor([[0.0, 1.0]])}
    paths = on_path(model, ones(2), masks, ["fc1.weight", "fc2.weight"])
    assert paths["fc1.weight"].sum() == 0 and paths["fc2.weight"].tolist() == [[False, True]]


def test_max_pooling_and_batchnorm_pass_connectivity_channel_by_channel():
    # conv (2 output channels) -> BN -> maxpool -> flatten -> linear. Channel 1 of the conv is
    # pruned: the linear weights that read channel 1's pooled positions (4 of 8) are off every
    # path; every position of channel 0 counts, not only a window's maximum.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 1))
    model[1].running_mean.fill_(5.0)  # would make the ones-input negative if BN computed as trained
    conv = torch.tensor([1.0, 0.0]).reshape(2, 1, 1, 1)
    paths = on_path(model, ones(1, 4, 4), {"0.weight": conv, "4.weight": torch.ones(1, 8)}, ["0.weight", "4.weight"])
    assert paths["0.weight"].flatten().tolist() == [True, False]
    assert paths["4.weight"].flatten().tolist() == [True] * 4 + [False] * 4


def test_on_digits_cnn_at_64x_layer_mag_act_is_disconnected_and_synflow_fully_effective():
    from evaluator.benchmarks import get_benchmark
    from evaluator.metrics import model_metrics
    from evaluator.models import get_model
    from evaluator.pruning import get_builtin
    from evaluator.strategy import strategy_masks
    from evaluator.weights import verified_weights

    spec = get_benchmark("digits-cnn")
    state = verified_weights(spec)[0]
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(128, 1, 8, 8, generator=g), torch.randint(0, 10, (128,), generator=g)
    got = {}
    for name in ("layer-mag-act", "global-mag-weight", "synflow"):
        mask = strategy_masks(get_builtin(name), lambda: get_model(spec.model), state, x, y, 64.0, 0, 10).to_torch()
        model = get_model(spec.model)
        model.load_state_dict(state)
        m = model_metrics(model, torch.zeros(1, 8, 8), mask)
        got[name] = (m, effective_metrics(model, torch.zeros(1, 8, 8), mask, m.size, m.size_nz, m.flops))
    assert got["layer-mag-act"][1]["disconnected"] and not got["layer-mag-act"][0].compression > 65
    metrics, effective = got["global-mag-weight"]
    assert not effective["disconnected"] and effective["effective_compression"] > 1.4 * metrics.compression
    metrics, effective = got["synflow"]
    assert effective["effective_compression"] == metrics.compression
    assert effective["effective_speedup"] == metrics.speedup
