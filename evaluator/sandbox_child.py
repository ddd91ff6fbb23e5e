"""The child side of the sandbox: import a strategy, compute masks, write them, exit.

Run as `python -m evaluator.sandbox_child WORKDIR` by `evaluator.sandbox` only. Reads
`job.json`, `weights.safetensors`, `calibration.npz` (+ `strategy.py`) from WORKDIR; writes
`masks-<i>.npz` or `error-<i>.json` per job, or `error.json` when the strategy cannot be loaded.
Never touches datasets: the test split is not reachable from here.
"""

from __future__ import annotations

import errno
import importlib.util
import inspect
import json
import sys
import traceback
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from evaluator.isolation import describe_limit
from evaluator.models import get_model
from evaluator.pruning import Pruning, get_baseline
from evaluator.strategy import strategy_masks


class LoadError(Exception):
    pass


def load_strategy(work: Path, spec: dict) -> type[Pruning]:
    if spec.get("baseline"):
        return get_baseline(spec["baseline"])
    path = work / spec["file"]
    module_spec = importlib.util.spec_from_file_location("submission", path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["submission"] = module
    module_spec.loader.exec_module(module)
    found = {name: obj for name, obj in vars(module).items()
             if inspect.isclass(obj) and issubclass(obj, Pruning)
             and obj.__module__ == "submission" and not inspect.isabstract(obj)}
    wanted = spec.get("class_name")
    if wanted:
        if wanted not in found:
            raise LoadError(f"the file defines no strategy class {wanted!r}; "
                            f"strategies found: {', '.join(sorted(found)) or 'none'}")
        return found[wanted]
    if not found:
        raise LoadError("the file defines no strategy: no concrete subclass of "
                        "evaluator.pruning.Pruning (with model_masks or layer_masks) was found")
    if len(found) > 1:
        raise LoadError(f"the file defines several strategies ({', '.join(sorted(found))}); "
                        "name one as FILE.py:ClassName")
    return next(iter(found.values()))


def _user_traceback(exc: BaseException) -> str:
    """The frames of the submitter's file (the module load_strategy loaded), not the harness's."""
    own = getattr(sys.modules.get("submission"), "__file__", None)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == own]
    lines = traceback.format_list(frames) if frames else traceback.format_tb(exc.__traceback__)
    return "".join(lines) + "".join(traceback.format_exception_only(type(exc), exc))


def _limit_hit(exc: BaseException) -> str:
    """Which resource limit an exception comes from, if any ('' for none)."""
    text = str(exc)
    if isinstance(exc, MemoryError) or "can't allocate memory" in text or "DefaultCPUAllocator" in text:
        return "memory"
    if isinstance(exc, OSError) and exc.errno == errno.EAGAIN or "can't start new thread" in text:
        return "processes"
    if isinstance(exc, OSError) and exc.errno == errno.EMFILE:
        return "open files"
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return "file size"
    return ""


def _report(exc: BaseException, limits: dict) -> dict:
    limit = _limit_hit(exc)
    if limit:
        message = f"the strategy {describe_limit(limit, limits)}: {type(exc).__name__}: {exc}"
    elif isinstance(exc, SystemExit):
        message = f"the strategy called sys.exit({exc.code!r}) before returning masks"
    else:
        message = f"{type(exc).__name__}: {exc}"
    return {"message": message, "traceback": _user_traceback(exc), "limit": limit}


def main(work: Path) -> int:
    job = json.loads((work / "job.json").read_text())
    model = get_model(job["model"], num_classes=job["num_classes"])
    state = load_file(str(work / "weights.safetensors"))
    calibration = np.load(work / "calibration.npz", allow_pickle=False)
    try:
        cls = load_strategy(work, job["strategy"])
    except BaseException as exc:  # the submitter's import may raise anything, SystemExit too
        report = _report(exc, job["limits"])
        if isinstance(exc, LoadError):
            report["message"] = str(exc)
        elif not report["limit"]:
            report["message"] = f"the strategy file failed to import: {report['message']}"
        (work / "error.json").write_text(json.dumps(report))
        return 3
    for i, item in enumerate(job["jobs"]):
        seed = item["seed"]
        inputs = torch.from_numpy(calibration[f"inputs_{seed}"])
        targets = torch.from_numpy(calibration[f"targets_{seed}"])
        try:
            mask = strategy_masks(cls, model, state, inputs, targets, item["compression"], seed)
            mask.save(work / f"masks-{i}.npz")
        except BaseException as exc:
            (work / f"error-{i}.json").write_text(json.dumps(_report(exc, job["limits"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
