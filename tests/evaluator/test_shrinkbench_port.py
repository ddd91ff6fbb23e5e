"""A strategy written for ShrinkBench runs here once its imports are changed, and nothing else."""

import importlib.util
import textwrap

import pytest
import torch

from tests.evaluator.nets import small_cnn

from evaluator.pruning import Mask

SHRINKBENCH_IMPORTS = """\
from ..pruning import LayerPruning, VisionPruning, GradientMixin
from .utils import (fraction_threshold,
                    fraction_mask,
                    map_importances,
                    flatten_importances,
                    importance_masks)
"""

PRUNEBOARD_IMPORTS = """\
from evaluator.pruning import VisionPruning, LayerPruning, map_importances, flatten_importances, fraction_threshold, importance_masks, fraction_mask
from evaluator.pruning import GradientMixin
"""

# The shape of ShrinkBench's strategies/magnitude.py, in its style.
SHRINKBENCH_STRATEGY = textwrap.dedent('''\
    """Magnitude based pruning

    Implements pruning strategy that prunes as follows

    For a given tensor, sort by absolute value and
    keep only the _fraction_ with highest magnitudes
    so that overall desired compression is achieved
    """

    import numpy as np

    {imports}

    class GlobalMagWeight(VisionPruning):

        def model_masks(self):
            importances = map_importances(np.abs, self.params())
            flat_importances = flatten_importances(importances)
            threshold = fraction_threshold(flat_importances, self.fraction)
            masks = importance_masks(importances, threshold)
            return masks


    class LayerMagWeight(LayerPruning, VisionPruning):

        def layer_masks(self, module):
            params = self.module_params(module)
            importances = {{param: np.abs(value) for param, value in params.items()}}
            masks = {{param: fraction_mask(importances[param], self.fraction)
                     for param, value in params.items() if value is not None}}
            return masks


    class GlobalMagGrad(GradientMixin, VisionPruning):

        def model_masks(self):
            params = self.params()
            grads = self.param_gradients()
            importances = {{mod:
                           {{p: np.abs(params[mod][p]*grads[mod][p])
                            for p in mod_params}}
                           for mod, mod_params in params.items()}}
            flat_importances = flatten_importances(importances)
            threshold = fraction_threshold(flat_importances, self.fraction)
            masks = importance_masks(importances, threshold)
            return masks
    ''')



@pytest.fixture(scope="module")
def ported(tmp_path_factory):
    # The port: the ShrinkBench file with its import lines swapped, every other line untouched.
    source = SHRINKBENCH_STRATEGY.format(imports=SHRINKBENCH_IMPORTS).replace(SHRINKBENCH_IMPORTS, PRUNEBOARD_IMPORTS)
    path = tmp_path_factory.mktemp("submission") / "strategy.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("ported_strategy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("compression", [1, 2, 8, 64])
@pytest.mark.parametrize("name", ["GlobalMagWeight", "LayerMagWeight", "GlobalMagGrad"])
def test_a_ported_shrinkbench_strategy_gives_a_valid_mask_that_reaches_the_compression(ported, name, compression):
    model = small_cnn()
    generator = torch.Generator().manual_seed(1)
    inputs, outputs = torch.randn(32, 3, 8, 8, generator=generator), torch.randint(0, 10, (32,), generator=generator)
    strategy = getattr(ported, name)(model, inputs, outputs, compression=compression, seed=0)
    mask = Mask.validate(model, Mask.from_strategy_output(model, strategy.model_masks()))
    total = sum(p.numel() for p in model.parameters())
    nonprunable = total - mask.total()
    assert mask.kept() + nonprunable <= total / compression + len(mask)  # within rounding, one per layer
    assert mask.kept() + nonprunable >= total / compression - len(mask)
    if name.startswith("Global"):  # a threshold never keeps more than asked, ties or not
        assert round(strategy.fraction * mask.total()) - 2 <= mask.kept() <= round(strategy.fraction * mask.total())
    if compression == 1:
        assert mask.kept() == mask.total()


def test_a_ported_global_strategy_on_continuous_weights_matches_the_builtin_baseline(ported):
    from evaluator.pruning import GlobalMagWeight

    model = small_cnn()
    ours = Mask.from_strategy_output(model, GlobalMagWeight(model, compression=8).model_masks())
    theirs = Mask.from_strategy_output(model, ported.GlobalMagWeight(model, compression=8).model_masks())
    assert ours == theirs  # no ties among float weights, so threshold and exact top-k agree
