"""Masked finetuning step vs the dense step on the same model and batch (target: ratio <= 1.05).

The dense step (forward, backward, optimizer step) is the physical limit; the masked step adds
what finetuning with masks adds (gradient masking and the post-step re-zeroing). Dense and
masked rounds alternate so machine noise hits both alike. Ends with `ratio=X.XXX`, the worse
of the two models. Run: `.venv/bin/python benchmarks/masked_step.py [--device cuda]`
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluator.benchmarks import FinetuneProtocol  # noqa: E402
from evaluator.finetune import MaskedWeights, make_optimizer  # noqa: E402
from evaluator.models import get_model, model_input_shape  # noqa: E402

PROTOCOL = FinetuneProtocol(optimizer="sgd", lr=1e-3, momentum=0.9, weight_decay=5e-4)


def step(model, optimizer, x, y, masked):
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if masked is not None:
        masked.mask_gradients()
    optimizer.step()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(name: str, batch: int, steps: int, rounds: int, device: torch.device) -> float:
    torch.manual_seed(0)
    model = get_model(name).to(device)
    x = torch.randn(batch, *model_input_shape(name), device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    masks = {n: (torch.rand_like(p) > 0.875).float() for n, p in model.named_parameters()
             if p.dim() > 1}
    masked = MaskedWeights(model, masks)
    optimizer = make_optimizer(model.parameters(), PROTOCOL)
    times = {None: [], "masked": []}
    for _ in range(3):  # warm-up, both paths
        step(model, optimizer, x, y, None)
        step(model, optimizer, x, y, masked)
    for _ in range(rounds):
        for kind in (None, "masked"):
            sync(device)
            start = time.perf_counter()
            for _ in range(steps):
                step(model, optimizer, x, y, masked if kind else None)
            sync(device)
            times[kind].append((time.perf_counter() - start) / steps)
    dense, masked_t = statistics.median(times[None]), statistics.median(times["masked"])
    ratio = masked_t / dense
    print(f"{name} batch {batch} on {device}: dense {dense * 1e3:.3f} ms/step, masked {masked_t * 1e3:.3f} "
          f"ms/step, ratio {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    device = torch.device(cli.parse_args().device)
    torch.set_num_threads(2)
    scale = 10 if device.type == "cuda" else 1  # GPU steps are short: more of them per round
    ratios = [measure("cifar_resnet20", 128, 3 * scale, 9, device),
              measure("digits_mlp", 128, 200, 15, device)]
    print(f"ratio={max(ratios):.3f}")
