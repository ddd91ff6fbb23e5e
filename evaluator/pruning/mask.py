"""`Mask`: a validated, immutable mapping from full parameter name to a boolean array.

Masks are keyed by parameter name ("layer1.0.conv1.weight"), never by module object, so they
serialize and cross process boundaries. The harness turns a strategy's output into one with

    mask = Mask.from_strategy_output(model, strategy.model_masks())   # already validated
    mask = Mask.validate(model, mask)                                 # idempotent, may be repeated

`Mask.validate` checks names (exactly the prunable parameters), shapes, dtype (numeric or bool),
finiteness and 0/1 values, and every error names the offending parameter. `Mask(arrays)` alone
checks only the values: it does not know the model (that is what `load` returns, so validate a
loaded mask against its model). Whether a mask keeps more weights than the compression allows is
the harness's check, not this type's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from .base import _prunable_modules

_PREFIX = "mask:"  # npz entry names; a prefix so no parameter name can clash with savez's arguments


class MaskError(ValueError):
    """A mask that cannot be used; the message names the offending parameter."""


def _as_array(name: str, value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
        value = value.numpy()
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise MaskError(f"mask for '{name}' is not an array: {error}") from None
    if array.dtype.kind not in "biuf":
        raise MaskError(f"mask for '{name}' has dtype {array.dtype}; masks must be numeric or bool arrays")
    return array


def _check_values(name: str, array: np.ndarray) -> np.ndarray:
    """Read-only boolean copy of a 0/1 array, or MaskError naming the parameter."""
    if array.dtype.kind == "f":
        if np.isnan(array).any():
            raise MaskError(f"mask for '{name}' contains NaN")
        if np.isinf(array).any():
            raise MaskError(f"mask for '{name}' contains inf")
    if array.dtype.kind != "b":
        bad = (array != 0) & (array != 1)
        if bad.any():
            raise MaskError(f"mask for '{name}' has values other than 0 and 1, e.g. {array[bad].flat[0].item():g}")
    out = array.astype(bool, copy=True)
    out.flags.writeable = False
    return out


def _prunable_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    return {(f"{name}.weight" if name else "weight"): module.weight for name, module in _prunable_modules(model)}


def _listing(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"


class Mask(Mapping):
    """Immutable {full parameter name: read-only bool ndarray}."""

    def __init__(self, arrays: Mapping):
        self._arrays = {}
        for name, value in arrays.items():
            if not isinstance(name, str):
                raise MaskError(f"mask keys must be parameter names (str), got {name!r}")
            self._arrays[name] = _check_values(name, _as_array(name, value))

    # Mapping
    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name]

    def __iter__(self):
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Mask):
            return NotImplemented
        return self.keys() == other.keys() and all(np.array_equal(self[k], other[k]) for k in self)

    __hash__ = None

    def __repr__(self) -> str:
        return f"Mask({len(self)} parameters, kept {self.kept()}/{self.total()})"

    # Construction
    @classmethod
    def validate(cls, model: nn.Module, raw: Mapping) -> "Mask":
        """A Mask with exactly `model`'s prunable parameters, each 0/1, finite, of the right shape."""
        if not isinstance(raw, Mapping):
            raise MaskError(f"masks must be a mapping {{parameter name: array}}, got {type(raw).__name__}")
        expected = _prunable_weights(model)
        for name in raw:
            if name not in expected:
                raise MaskError(f"unknown parameter {name!r} (prunable: {_listing(list(expected))})")
        arrays = {}
        for name, param in expected.items():
            if raw.get(name) is None:
                raise MaskError(f"missing mask for parameter '{name}'")
            array = _as_array(name, raw[name])
            if array.shape != tuple(param.shape):
                raise MaskError(
                    f"mask for '{name}' has shape {array.shape} but the parameter has shape {tuple(param.shape)}"
                )
            arrays[name] = array
        return cls(arrays)

    @classmethod
    def from_strategy_output(cls, model: nn.Module, output) -> "Mask":
        """Validated Mask from what `model_masks()` returned.

        Accepts ShrinkBench's shape {module: {"weight": mask}} (module objects of `model`),
        {module_name: {"weight": mask}}, {full_name: mask}, or a mix; values numpy, torch or
        nested lists. A None mask counts as
        missing. Raises MaskError as `validate` does.
        """
        if not isinstance(output, Mapping):
            raise MaskError(
                f"model_masks() must return a mapping {{module: {{'weight': mask}}}}, got {type(output).__name__}"
            )
        module_names = {id(m): n for n, m in model.named_modules()}
        flat: dict[str, object] = {}

        def put(name, value):
            if name in flat:
                raise MaskError(f"two masks given for parameter '{name}'")
            if value is not None:
                flat[name] = value

        for key, value in output.items():
            if isinstance(key, nn.Module):
                if id(key) not in module_names:
                    raise MaskError(f"masks given for a {type(key).__name__} module that is not part of the model")
                key = module_names[id(key)]
                if value is not None and not isinstance(value, Mapping):
                    raise MaskError(f"masks for module '{key}' must be a mapping {{param name: mask}}")
            elif not isinstance(key, str):
                raise MaskError(f"mask keys must be modules or parameter names, got {key!r}")
            if isinstance(value, Mapping):  # {module or module name: {"weight": mask}}
                for param_name, mask in value.items():
                    put(f"{key}.{param_name}" if key else str(param_name), mask)
            else:  # {full parameter name: mask}
                put(key, value)
        return cls.validate(model, flat)

    @classmethod
    def ones(cls, model: nn.Module) -> "Mask":
        """Keep everything."""
        return cls({name: np.ones(param.shape, bool) for name, param in _prunable_weights(model).items()})

    # Queries
    def kept(self) -> int:
        return int(sum(int(a.sum()) for a in self._arrays.values()))

    def total(self) -> int:
        return int(sum(a.size for a in self._arrays.values()))

    def kept_by_parameter(self) -> dict[str, int]:
        return {name: int(a.sum()) for name, a in self._arrays.items()}

    def to_torch(self, device="cpu", dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
        """Float tensors to multiply the parameters by (pass the parameters' dtype)."""
        return {name: torch.tensor(a, dtype=dtype, device=device) for name, a in self._arrays.items()}

    def sha256(self) -> str:
        """Stable hash over sorted names, shapes and the packed bits."""
        digest = hashlib.sha256(b"pruneboard-mask-v1\0")
        for name in sorted(self._arrays):
            array = self._arrays[name]
            digest.update(name.encode() + b"\0" + json.dumps(list(array.shape)).encode() + b"\0")
            digest.update(np.packbits(array.ravel()).tobytes())
        return digest.hexdigest()

    # Files
    def save(self, path) -> None:
        """Write a compressed .npz (bool arrays only; nothing pickled) to exactly `path`."""
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **{_PREFIX + name: a for name, a in self._arrays.items()})

    @classmethod
    def load(cls, path) -> "Mask":
        """Read a mask written by `save`; pickled content is refused. Validate it against the model."""
        try:
            data = np.load(path, allow_pickle=False)
        except ValueError as error:
            raise MaskError(f"{path} is not a mask file: {error}") from None
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise MaskError(f"{path} is not an .npz mask file")
        arrays = {}
        with data:
            for key in data.files:
                if not key.startswith(_PREFIX):
                    raise MaskError(f"{path}: unexpected entry '{key}'")
                name = key[len(_PREFIX) :]
                try:
                    arrays[name] = data[key]
                except ValueError:
                    raise MaskError(f"{path}: the mask for '{name}' is a pickled object array; refused") from None
        return cls(arrays)
