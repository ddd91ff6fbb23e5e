"""The CUDA path, end to end, on a machine with a GPU: standard benchmarks through the real CLI.

Writes learnable synthetic MNIST (IDX files) and CIFAR-10 (python batches) in the real on-disk
layouts into a scratch folder (no real data is needed, none is downloaded), then, on the device:
1. `pretrain mnist-lenet` and `pretrain cifar10-resnet20` (the benchmark protocols, 200 CIFAR
   epochs; a small synthetic training set keeps it to minutes) write weights + SHA-256;
2. `run` every baseline on LeNet and the global magnitude baseline on ResNet-20, at 2x and 8x,
   seed 0 (30 finetuning epochs each on CIFAR);
3. `run` digits-cnn twice with every baseline, and compares the two CSVs: identical masks
   (masks SHA-256) and how far each metric moved between the two runs.
Prints the tables, the stage timings, and ends with `seconds=X.X` (the whole check).
Run (GPU machine): `python benchmarks/cuda_check.py [--device cuda] [--out DIR]`
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.evaluator.layouts import write_cifar10, write_mnist  # noqa: E402


def cli(*args: str, env: dict) -> float:
    start = time.perf_counter()
    print("$ python -m evaluator", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "evaluator", *args], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


def compare(a: Path, b: Path) -> None:
    x, y = pd.read_csv(a), pd.read_csv(b)
    same_masks = (x["masks_sha256"] == y["masks_sha256"]).all()
    print(f"digits-cnn twice on the device: {len(x)} runs, masks identical: {same_masks}")
    for col in ("pre_top1", "top1", "loss", "val_top1", "compression", "flops_nz"):
        print(f"  {col}: max |difference| {(x[col] - y[col]).abs().max():.3g}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp()))
    args = p.parse_args()
    start = time.perf_counter()
    scratch = Path(tempfile.mkdtemp())
    write_mnist(scratch / "data", train=2000, test=1000)
    write_cifar10(scratch / "data", per_batch=300, test=1000)
    env = {**os.environ, "PRUNEBOARD_DATA_ROOT": str(scratch / "data"),
           "PRUNEBOARD_WEIGHTS_DIR": str(scratch / "weights"), "PYTHONUNBUFFERED": "1"}
    args.out.mkdir(parents=True, exist_ok=True)
    timings = {}
    for bench, baseline in (("mnist-lenet", "all"), ("cifar10-resnet20", "global-mag-weight")):
        timings[f"pretrain {bench}"] = cli("pretrain", bench, "--device", args.device, env=env)
        timings[f"run {bench}"] = cli(
            "run", "--benchmark", bench, "--baseline", baseline, "--compressions", "2,8",
            "--seeds", "0", "--device", args.device, "--out", str(args.out / f"{bench}.csv"), env=env)
    for tag in ("a", "b"):
        timings[f"run digits-cnn ({tag})"] = cli(
            "run", "--benchmark", "digits-cnn", "--baseline", "all", "--compressions", "4,16",
            "--seeds", "0", "--device", args.device, "--out", str(args.out / f"digits-cnn-{tag}.csv"),
            env=env)
    compare(args.out / "digits-cnn-a.csv", args.out / "digits-cnn-b.csv")
    rows = pd.read_csv(args.out / "cifar10-resnet20.csv")
    print("device:", rows["device_name"].iloc[0], "| torch", rows["torch_version"].iloc[0],
          "| cuda", rows["cuda_version"].iloc[0], "| deterministic", rows["deterministic"].iloc[0])
    for name, seconds in timings.items():
        print(f"{name}: {seconds:.1f} s")
    print(f"seconds={time.perf_counter() - start:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
