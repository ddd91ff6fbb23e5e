"""Seconds per `model_metrics` call on torchvision resnet50 at 3x224x224 (target: <= 2 s on CPU).

Builds the model once, masks it with a global 50% magnitude mask over all prunable weights of a
random initialisation, and prints the median of a few timed calls. Last line: `seconds=0.8`.
Run from the repository root: `.venv/bin/python benchmarks/metrics_resnet50.py`.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torchvision  # noqa: E402

from evaluator.metrics import model_metrics, prunable_parameters  # noqa: E402

REPEATS = 5


def magnitude_masks(model: torch.nn.Module, keep: float) -> dict[str, torch.Tensor]:
    """Keep the `keep` share of prunable weights with the largest magnitude, over all layers."""
    weights = prunable_parameters(model)
    magnitudes = torch.cat([p.detach().abs().flatten() for p in weights.values()])
    threshold = magnitudes.kthvalue(int(round((1 - keep) * magnitudes.numel()))).values
    return {name: p.detach().abs() > threshold for name, p in weights.items()}


def main() -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None)
    masks = magnitude_masks(model, keep=0.5)
    example = torch.randn(3, 224, 224)

    model_metrics(model, example, masks)  # warm-up
    seconds = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        metrics = model_metrics(model, example, masks)
        seconds.append(time.perf_counter() - start)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {REPEATS} calls")
    for key, value in metrics.as_dict().items():
        print(f"{key}={value:,.4g}" if isinstance(value, float) else f"{key}={value:,}")
    print(f"per-call seconds: {', '.join(f'{s:.3f}' for s in seconds)}")
    print(f"seconds={statistics.median(seconds):.1f}")


if __name__ == "__main__":
    main()
