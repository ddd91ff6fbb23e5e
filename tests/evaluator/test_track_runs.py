"""Runs on the structured and 2:4 tracks, end to end through score_run (one finetuning epoch)."""

import dataclasses

import numpy as np
import pytest

from evaluator.benchmarks import get_benchmark
from evaluator.columns import COLUMNS
from evaluator.pruning import Mask
from evaluator.runner import Context, RunFailed, score_run
from evaluator.sandbox import StrategySource

from .test_nm import two_of_four
from .test_structured import channel_mask


def short(name):
    target = get_benchmark(name)
    return dataclasses.replace(target, finetune=dataclasses.replace(target.finetune, epochs=1))


@pytest.fixture(scope="module")
def structured():
    return Context.load(short("digits-cnn/structured"), device="cpu")


def quarter_of_channels(model) -> Mask:
    """Keep the first quarter of the channels of every layer but the classifier."""
    params = dict(model.named_parameters())
    cut = {name: list(range(params[name].shape[0] // 4, params[name].shape[0]))
           for name in ("0.weight", "2.weight", "6.weight")}
    return channel_mask(model, cut)


def test_a_structured_run_finetunes_and_scores_the_smaller_network(structured):
    model = structured.fresh_model()
    record = score_run(structured, StrategySource(baseline="hand"), 2, 0, quarter_of_channels(model))
    assert list(record) == COLUMNS and record["track"] == "structured"
    assert record["size_nz"] == 38728 + 234  # by the mask, as on every track: kept weights + biases
    # conv 8, conv 16 (from 8 inputs), fc 32 (from 16 x 16), classifier from 32: the network run
    assert record["params_run"] == (8 * 9 + 8) + (16 * 8 * 9 + 16) + (32 * 256 + 32) + (10 * 32 + 10)
    assert record["macs_run"] == 64 * 8 * 9 + 64 * 16 * 72 + 32 * 256 + 10 * 32
    assert record["speedup_run"] == pytest.approx(record["flops"] / record["macs_run"])
    assert record["top1"] > 0.5  # a quarter of the channels still learns the digits


def test_a_near_structured_mask_is_refused_before_anything_runs(structured):
    model = structured.fresh_model()
    masks = dict(quarter_of_channels(model))
    sneaky = masks["6.weight"].copy()
    sneaky[100, :3] = True  # a pruned neuron keeps three weights
    masks["6.weight"] = sneaky
    with pytest.raises(RunFailed, match=r"invalid masks: mask for '6\.weight' prunes part of output channel 100"):
        score_run(structured, StrategySource(baseline="hostile"), 4, 0, Mask.validate(model, masks))


def test_an_unstructured_mask_is_refused_on_the_structured_track(structured):
    model = structured.fresh_model()
    rng = np.random.default_rng(0)
    masks = {n: rng.random(p.shape) < 0.25 for n, p in model.named_parameters() if n.endswith("weight")}
    with pytest.raises(RunFailed, match="on the structured track a mask keeps or prunes whole output channels"):
        score_run(structured, StrategySource(baseline="hostile"), 4, 0, Mask.validate(model, masks))


def test_a_2_4_run_records_the_kernel_s_macs():
    ctx = Context.load(short("digits-mlp/nm24"), device="cpu")
    model = ctx.fresh_model()
    record = score_run(ctx, StrategySource(baseline="hand"), 2, 0, Mask.validate(model, two_of_four(model)))
    assert record["track"] == "nm24" and record["compression"] >= 2 * 0.99
    assert record["speedup"] == pytest.approx(2.0) and record["speedup_run"] == pytest.approx(2.0)
    assert record["top1"] > 0.8


NEAR_STRUCTURED = '''
import numpy as np
from evaluator.pruning import Pruning
from evaluator.structured import channel_masks


class Sneaky(Pruning):
    """Whole channels, except that every pruned filter of the big Linear keeps one weight:
    almost the structured track's masks, and a removal would silently change the network."""

    def model_masks(self):
        masks = channel_masks(self.model, {"0.weight": list(range(8)), "2.weight": list(range(16)),
                                           "6.weight": list(range(32))})
        masks["6.weight"][32:, 0] = True
        return masks
'''


def test_a_hostile_strategy_s_near_structured_masks_fail_its_runs_and_the_sweep_goes_on(structured, tmp_path):
    from evaluator.runner import sweep

    path = tmp_path / "sneaky.py"
    path.write_text(NEAR_STRUCTURED)
    records, failures = sweep(structured, [StrategySource(path=path)], [2], [0, 1])
    assert records == [] and len(failures) == 2
    for failure in failures:
        assert failure.error.user_error
        assert "mask for '6.weight' prunes part of output channel 32 (1 of 1024 weights kept)" in failure.error.message


@pytest.mark.parametrize("name", ["digits-cnn/structured", "mnist1d-cnn/structured", "digits-mlp/nm24",
                                  "mnist1d-cnn/nm24"])
def test_every_built_in_a_track_shows_makes_masks_the_track_takes(name):
    from evaluator.pruning import get_builtin
    from evaluator.realize import dense_macs
    from evaluator.runner import calibration_batch
    from evaluator.tracks import get_track

    target = get_benchmark(name)
    track = get_track(target.track)
    ctx = Context.load(target, device="cpu")
    inputs, outputs = calibration_batch(ctx.splits.train, target.calibration_size, 0)
    for builtin in track.builtin_names(target):
        for compression in (min(target.compressions[1:] or target.compressions), max(target.compressions)):
            model = ctx.fresh_model()
            strategy = get_builtin(builtin)(model, inputs, outputs, compression=compression)
            mask = Mask.from_strategy_output(model, strategy.model_masks())
            track.check_masks(model, mask)
            realized = track.realize(model, mask, inputs[:8])
            assert 0 < realized.macs <= dense_macs(ctx.fresh_model(), inputs)
