import functools

import pytest
import torch
from torch import nn

from evaluator.models import MODELS, get_model, list_models, model_input_shape, register_model

TINY_MODELS = ["digits_mlp", "digits_cnn", "mnist1d_cnn"]
PRUNABLE = (nn.Conv1d, nn.Conv2d, nn.Linear)
MAX_COMPRESSION = 64


@functools.lru_cache(maxsize=None)
def built(name: str) -> nn.Module:
    """One seeded build per model for the tests that only read it (vgg16 is slow to build)."""
    torch.manual_seed(0)
    return get_model(name).eval()


def total_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def non_prunable_params(model: nn.Module) -> int:
    prunable = sum(m.weight.numel() for m in model.modules() if isinstance(m, PRUNABLE))
    return total_params(model) - prunable


@pytest.mark.parametrize("name", list_models())
def test_every_model_maps_a_batch_to_finite_scores_for_each_class(name):
    x = torch.randn(2, *model_input_shape(name), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out = built(name)(x)
    assert out.shape == (2, MODELS[name].num_classes)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", list_models())
def test_no_model_rectifies_in_place_behind_a_forward_hook(name):
    assert not any(getattr(m, "inplace", False) for m in built(name).modules())


def test_it_registers_the_benchmark_architectures():
    assert list_models() == sorted(
        ["digits_mlp", "digits_cnn", "mnist1d_cnn", "lenet5", "cifar_resnet20", "cifar_resnet32",
         "cifar_resnet56", "cifar_resnet110", "cifar_vgg", "resnet18", "resnet50", "vgg16"]
    )  # fmt: skip


def test_it_lists_known_models_for_an_unknown_name():
    with pytest.raises(ValueError, match=r"unknown model 'resnet21'; known: .*cifar_resnet20, "):
        get_model("resnet21")
    with pytest.raises(ValueError, match="known: "):
        model_input_shape("resnet21")


def test_it_refuses_to_register_a_name_twice():
    with pytest.raises(ValueError, match="already registered"):
        register_model(input_shape=(1, 8, 8), num_classes=10)(MODELS["digits_mlp"].build)


def test_it_reports_one_sample_input_shapes():
    assert model_input_shape("digits_mlp") == (1, 8, 8)
    assert model_input_shape("mnist1d_cnn") == (1, 40)
    assert model_input_shape("lenet5") == (1, 28, 28)
    assert model_input_shape("cifar_vgg") == (3, 32, 32)
    assert model_input_shape("resnet18") == (3, 224, 224)


def test_cifar_resnet20_has_the_papers_027m_parameters():
    assert 260_000 <= total_params(built("cifar_resnet20")) <= 280_000


def test_cifar_resnet56_has_the_papers_085m_parameters():
    assert 840_000 <= total_params(built("cifar_resnet56")) <= 860_000


def test_cifar_resnets_use_parameter_free_option_a_shortcuts():
    kernels = {m.kernel_size for m in built("cifar_resnet20").modules() if isinstance(m, nn.Conv2d)}
    assert kernels == {(3, 3)}


@pytest.mark.parametrize("name", TINY_MODELS)
def test_tiny_models_keep_unprunable_parameters_under_a_quarter_of_the_64x_budget(name):
    model = built(name)
    assert non_prunable_params(model) <= 0.25 * total_params(model) / MAX_COMPRESSION


def test_a_model_can_be_built_for_another_number_of_classes():
    model = get_model("cifar_resnet20", num_classes=100).eval()
    with torch.inference_mode():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 100)


@pytest.mark.parametrize("name", TINY_MODELS + ["cifar_resnet20"])
def test_the_same_seed_builds_the_same_weights(name):
    torch.manual_seed(0)
    first = get_model(name).state_dict()
    torch.manual_seed(0)
    second = get_model(name).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_model_parameters_name_each_parameters_module_and_shape():
    from evaluator.models import model_parameters

    found = model_parameters("digits_mlp")
    assert found["1.weight"] == ("Linear", (512, 64)) and found["5.bias"] == ("Linear", (10,))
    assert model_parameters("cifar_resnet20")["layer1.0.conv1.weight"] == ("Conv2d", (16, 16, 3, 3))
