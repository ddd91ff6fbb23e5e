import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from evaluator.benchmarks import FinetuneProtocol
from evaluator.environment import Compute, environment
from evaluator.finetune import (MaskedWeights, evaluate, finetune_one_epoch, make_loader,
                                make_optimizer, make_schedule, train)


def tiny_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def tiny_data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return TensorDataset(x, y)


def half_masks(model):
    g = torch.Generator().manual_seed(1)
    return {name: (torch.rand(p.shape, generator=g) > 0.5).float()
            for name, p in model.named_parameters() if name.endswith("weight")}


PROTOCOLS = [
    FinetuneProtocol(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-2, epochs=3, batch_size=16),
    FinetuneProtocol(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2,
                     epochs=3, batch_size=16),
    FinetuneProtocol(optimizer="adam", lr=1e-2, weight_decay=1e-2, epochs=3, batch_size=16),
    FinetuneProtocol(optimizer="adamw", lr=1e-2, weight_decay=1e-1, epochs=3, batch_size=16),
]


def run_with_state(protocol, model, masks, data):
    """Build optimizer state on the dense model first, then finetune masked with that optimizer."""
    optimizer = make_optimizer(model.parameters(), protocol)
    loader = make_loader(data, 16, torch.Generator().manual_seed(0))
    finetune_one_epoch(model, loader, optimizer, make_schedule(optimizer, protocol, 100), "cpu", None)
    assert any(optimizer.state.values())  # momentum / Adam moments exist before masking
    return train(model, data, tiny_data(32, seed=1), protocol, device="cpu", seed=0,
                 masks=masks, optimizer=optimizer)


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: f"{p.optimizer}-nesterov{p.nesterov}")
def test_pruned_weights_are_exactly_zero_after_finetuning_with_existing_optimizer_state(protocol):
    model, data = tiny_model(), tiny_data()
    masks = half_masks(model)
    run_with_state(protocol, model, masks, data)
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        assert torch.all(params[name][mask == 0] == 0), name


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: f"{p.optimizer}-nesterov{p.nesterov}")
def test_pruned_weights_receive_no_update_at_any_step(protocol):
    model, data = tiny_model(), tiny_data()
    masks = half_masks(model)
    masked = MaskedWeights(model, masks)
    masked.apply()
    optimizer = make_optimizer(model.parameters(), protocol)
    masked.mask_optimizer_state(optimizer)
    params = dict(model.named_parameters())
    for x, y in make_loader(data, 16, torch.Generator().manual_seed(0)):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        masked.mask_gradients()
        optimizer.step()  # no re-zeroing afterwards: the step itself must leave them at zero
        for name, mask in masks.items():
            assert torch.all(params[name][mask == 0] == 0), name


def test_kept_weights_do_train():
    model, data = tiny_model(), tiny_data()
    masks = half_masks(model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train(model, data, tiny_data(32, seed=1), PROTOCOLS[0], device="cpu", seed=0, masks=masks)
    changed = [(model.get_parameter(n)[m == 1] != before[n][m == 1]).any() for n, m in masks.items()]
    assert all(changed)


def test_pruned_weights_contribute_nothing_to_the_output():
    model = tiny_model()
    masks = half_masks(model)
    MaskedWeights(model, masks).apply()
    x = torch.randn(4, 8)
    reference = tiny_model()
    with torch.no_grad():
        for name, mask in masks.items():
            reference.get_parameter(name).mul_(mask)
    assert torch.equal(model(x), reference(x))


def test_the_same_seed_trains_to_identical_weights():
    results = []
    for _ in range(2):
        model = tiny_model()
        train(model, tiny_data(), tiny_data(32, seed=1), PROTOCOLS[2], device="cpu", seed=3,
              masks=half_masks(model))
        results.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(*results)


def test_it_keeps_the_epoch_with_the_best_validation_top1():
    model = tiny_model()
    result = train(model, tiny_data(), tiny_data(32, seed=1), PROTOCOLS[0], device="cpu", seed=0)
    best = max([0.0] + [row["val_top1"] for row in result.history])
    assert result.val.top1 == pytest.approx(max(best, result.val.top1))
    again = evaluate(model, make_loader(tiny_data(32, seed=1), 8), "cpu")
    assert again.top1 == result.val.top1


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    protocol = FinetuneProtocol(optimizer="sgd", lr=1e-9, epochs=10, batch_size=16, patience=2)
    result = train(tiny_model(), tiny_data(), tiny_data(32, seed=1), protocol, device="cpu", seed=0)
    assert result.epochs_run == 2 and result.best_epoch == 0


def test_evaluate_counts_every_sample_exactly_once():
    data = tiny_data(37)
    scores = evaluate(tiny_model(), make_loader(data, 8), "cpu")
    assert scores.n == 37


def test_evaluate_refuses_a_loader_that_skips_samples():
    data = tiny_data(37)
    loader = torch.utils.data.DataLoader(data, batch_size=8, drop_last=True)
    with pytest.raises(RuntimeError, match="saw 32 samples but the split has 37"):
        evaluate(tiny_model(), loader, "cpu")


# How finetuning computes: bf16 autocast and channels-last on CUDA, fp32 on the CPU.


def conv_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 3))


def image_data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 4, 4, generator=g)
    return TensorDataset(x, (x[:, 0, 0, 0] > 0).long() + (x[:, 1, 0, 0] > 0).long())


def test_bf16_autocast_runs_the_forward_in_bf16_and_keeps_weights_and_masks_float32():
    model, protocol = tiny_model(), PROTOCOLS[0]
    masks = half_masks(model)
    forward_dtypes = []
    model[1].register_forward_hook(lambda module, inputs, output: forward_dtypes.append(output.dtype))
    optimizer = make_optimizer(model.parameters(), protocol)
    train(model, tiny_data(), tiny_data(32, seed=1), protocol, device="cpu", seed=0, masks=masks,
          optimizer=optimizer, compute=Compute(bf16=True))
    assert torch.bfloat16 in forward_dtypes  # training steps ran under autocast
    assert forward_dtypes[-1] == torch.float32  # scoring (validation) did not
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(v.dtype == torch.float32 for state in optimizer.state.values() for v in state.values()
               if torch.is_tensor(v) and v.dim())
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        assert torch.all(params[name][mask == 0] == 0), name


def test_channels_last_changes_the_layout_and_keeps_pruned_weights_zero():
    model = conv_model()
    masks = half_masks(model)
    layouts = []
    model[0].register_forward_hook(
        lambda module, inputs, output: layouts.append(inputs[0].is_contiguous(memory_format=torch.channels_last)))
    train(model, image_data(), image_data(16, seed=1), PROTOCOLS[0], device="cpu", seed=0, masks=masks,
          compute=Compute(channels_last=True))
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last) and any(layouts)
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        assert torch.all(params[name][mask == 0] == 0), name


def test_on_the_cpu_finetuning_is_float32_and_contiguous_and_every_run_records_it():
    assert Compute.for_device("cpu") == Compute(bf16=False, channels_last=False)
    record = environment("cpu")
    assert record["precision"] == "fp32" and record["channels_last"] is False
    assert Compute(bf16=True).precision == "bf16 autocast"
