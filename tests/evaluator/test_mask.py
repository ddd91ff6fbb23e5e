"""`Mask`: validation that names the parameter, conversion, hashing and files."""

import numpy as np
import pytest
import torch
from torch import nn

from evaluator.pruning import Mask, MaskError


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))


def good_raw():
    return {"0.weight": np.ones((4, 1, 3, 3)), "4.weight": np.zeros((10, 144))}


def test_a_good_mask_validates_to_read_only_booleans_keyed_by_parameter_name():
    mask = Mask.validate(small_cnn(), good_raw())
    assert list(mask) == ["0.weight", "4.weight"]
    assert mask["0.weight"].dtype == bool and not mask["0.weight"].flags.writeable
    assert (mask.kept(), mask.total()) == (36, 36 + 1440)
    assert mask.kept_by_parameter() == {"0.weight": 36, "4.weight": 0}


def test_it_rejects_a_missing_parameter():
    raw = good_raw()
    del raw["4.weight"]
    with pytest.raises(MaskError, match=r"missing mask for parameter '4\.weight'"):
        Mask.validate(small_cnn(), raw)


def test_it_rejects_an_unknown_parameter_and_lists_the_prunable_ones():
    raw = {**good_raw(), "4.bias": np.ones(10)}
    with pytest.raises(MaskError, match=r"unknown parameter '4\.bias' \(prunable: 0\.weight, 4\.weight\)"):
        Mask.validate(small_cnn(), raw)


def test_it_rejects_masks_of_the_wrong_shape():
    raw = {**good_raw(), "4.weight": np.ones(3)}
    message = r"mask for '4\.weight' has shape \(3,\) but the parameter has shape \(10, 144\)"
    with pytest.raises(MaskError, match=message):
        Mask.validate(small_cnn(), raw)


@pytest.mark.parametrize(
    "bad, message",
    [
        (0.5, r"mask for '0\.weight' has values other than 0 and 1, e\.g\. 0\.5"),
        (2, r"mask for '0\.weight' has values other than 0 and 1, e\.g\. 2"),
        (np.nan, r"mask for '0\.weight' contains NaN"),
        (np.inf, r"mask for '0\.weight' contains inf"),
    ],
)
def test_it_rejects_values_other_than_zero_and_one(bad, message):
    weights = np.ones((4, 1, 3, 3))
    weights[2, 0, 1, 1] = bad
    with pytest.raises(MaskError, match=message):
        Mask.validate(small_cnn(), {**good_raw(), "0.weight": weights})


def test_it_rejects_object_arrays():
    weights = np.ones((4, 1, 3, 3), dtype=object)
    with pytest.raises(MaskError, match=r"mask for '0\.weight' has dtype object"):
        Mask.validate(small_cnn(), {**good_raw(), "0.weight": weights})


def test_it_accepts_torch_tensors_bools_and_ints():
    raw = {"0.weight": torch.ones(4, 1, 3, 3, dtype=torch.bool), "4.weight": np.zeros((10, 144), dtype=np.int64)}
    assert Mask.validate(small_cnn(), raw).kept() == 36


def test_strategy_output_keyed_by_module_becomes_a_mask_keyed_by_name():
    model = small_cnn()
    output = {model[0]: {"weight": torch.ones(4, 1, 3, 3)}, model[4]: {"weight": np.zeros((10, 144))}}
    mask = Mask.from_strategy_output(model, output)
    assert isinstance(mask, Mask) and list(mask) == ["0.weight", "4.weight"]
    assert Mask.validate(model, mask) == mask
    assert Mask.from_strategy_output(model, good_raw()) == mask
    by_module_name = {"0": {"weight": np.ones((4, 1, 3, 3))}, "4.weight": np.zeros((10, 144))}
    assert Mask.from_strategy_output(model, by_module_name) == mask


def test_strategy_output_with_a_foreign_module_or_a_bias_is_refused():
    model = small_cnn()
    with pytest.raises(MaskError, match="not part of the model"):
        Mask.from_strategy_output(model, {nn.Linear(2, 2): {"weight": np.ones((2, 2))}})
    output = {model[0]: {"weight": np.ones((4, 1, 3, 3)), "bias": np.ones(4)}, model[4]: {"weight": np.ones((10, 144))}}
    with pytest.raises(MaskError, match=r"unknown parameter '0\.bias'"):
        Mask.from_strategy_output(model, output)
    with pytest.raises(MaskError, match="must return a mapping"):
        Mask.from_strategy_output(model, [np.ones(3)])


def test_ones_keeps_everything_and_to_torch_gives_float_tensors():
    model = small_cnn()
    mask = Mask.ones(model)
    assert mask.kept() == mask.total() == 36 + 1440
    tensors = mask.to_torch("cpu")
    assert tensors["4.weight"].dtype == torch.float32 and tensors["4.weight"].shape == (10, 144)
    assert mask.to_torch("cpu", dtype=torch.float64)["0.weight"].dtype == torch.float64


def test_a_mask_is_immutable():
    mask = Mask.ones(small_cnn())
    with pytest.raises(TypeError):
        mask["0.weight"] = np.zeros((4, 1, 3, 3))
    with pytest.raises(ValueError):
        mask["0.weight"][0] = False


def test_sha256_is_stable_and_changes_when_one_bit_flips():
    model = small_cnn()
    mask = Mask.validate(model, good_raw())
    assert mask.sha256() == Mask.validate(model, good_raw()).sha256()
    assert len(mask.sha256()) == 64
    flipped = good_raw()
    flipped["4.weight"][9, 143] = 1
    assert Mask.validate(model, flipped).sha256() != mask.sha256()


def test_save_and_load_round_trip(tmp_path):
    model = small_cnn()
    rng = np.random.default_rng(0)
    raw = {"0.weight": rng.random((4, 1, 3, 3)) > 0.5, "4.weight": rng.random((10, 144)) > 0.5}
    mask = Mask.validate(model, raw)
    path = tmp_path / "mask.npz"
    mask.save(path)
    loaded = Mask.validate(model, Mask.load(path))
    assert loaded == mask and loaded.sha256() == mask.sha256()


def test_a_file_holding_a_pickled_object_array_is_refused_on_load(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"mask:0.weight": np.array([{"not": "a mask"}], dtype=object)})
    with pytest.raises(MaskError, match=r"'0\.weight' is a pickled object array"):
        Mask.load(path)


def test_a_file_that_is_not_an_npz_archive_is_refused(tmp_path):
    path = tmp_path / "plain.npy"
    np.save(path, np.ones(3))
    with pytest.raises(MaskError, match="not an .npz"):
        Mask.load(path)
