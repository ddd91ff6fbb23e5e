"""The child side of the sandbox: import a strategy, compute masks, send them, exit.

Run as `python -m evaluator.sandbox.child INPUT_DIR FD` by `evaluator.sandbox.jobs` only. Reads
`job.json`, `weights.safetensors`, `calibration.npz` and `strategy.py` from INPUT_DIR (read-only);
sends, per job, the bit-packed masks or an error report on the pipe FD (`evaluator.sandbox.channel`),
or one fatal report when the strategy cannot be loaded. Writes no file the parent reads.
Never touches datasets: the test split is not reachable from here.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import sys
import traceback
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from evaluator.models import get_model
from evaluator.pruning import Pruning
from evaluator.sandbox.channel import encode_masks, encode_ready, encode_report, mask_layout
from evaluator.strategy import strategy_masks


class LoadError(Exception):
    pass


def load_strategy(work: Path, spec: dict) -> type[Pruning]:
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
    """The frames of the submitter's file (the module load_strategy loaded), named as they
    uploaded it (`strategy.py`, not where it sits here); never the harness's frames: an error
    raised in the harness (a helper given a wrong argument) shows only its message."""
    own = getattr(sys.modules.get("submission"), "__file__", None)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == own]
    for frame in frames:
        frame.line  # the source line, read while the frame still names the real file
        frame.filename = "strategy.py"
    lines = traceback.format_list(frames)
    return "".join(lines) + "".join(traceback.format_exception_only(type(exc), exc))


def _report(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, SystemExit):
        message = f"the strategy called sys.exit({exc.code!r}) before returning masks"
    else:
        message = f"{type(exc).__name__}: {exc}"
    return message, _user_traceback(exc)


def _send(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def main(work: Path, fd: int) -> int:
    job = json.loads((work / "job.json").read_text())
    def build_model():  # every job gets a model of its own (evaluator.strategy)
        return get_model(job["model"], num_classes=job["num_classes"])

    layout = mask_layout(build_model())
    state = load_file(str(work / "weights.safetensors"))
    calibration = np.load(work / "calibration.npz", allow_pickle=False)
    try:
        cls = load_strategy(work, job["strategy"])
    except BaseException as exc:  # the submitter's import may raise anything, SystemExit too
        message, trace = _report(exc)
        if isinstance(exc, LoadError):
            message = str(exc)
        else:
            message = f"the strategy file failed to import: {message}"
        _send(fd, encode_report(message, trace))
        return 3
    _send(fd, encode_ready())
    for i, item in enumerate(job["jobs"]):
        seed = item["seed"]
        inputs = torch.from_numpy(calibration[f"inputs_{seed}"])
        targets = torch.from_numpy(calibration[f"targets_{seed}"])
        try:
            mask = strategy_masks(cls, build_model, state, inputs, targets, item["compression"], seed,
                                  job["num_classes"])
            message = encode_masks(i, mask, layout)
        except BaseException as exc:
            message = encode_report(*_report(exc), job=i)
        _send(fd, message)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2])))
