"""A run's masks as a file: bit-packed exactly as they crossed the sandbox, self-describing.

The site keeps each distinct masks blob once, by its SHA-256, and offers it on the run page
(`/r/<run>/masks`); `python -m evaluator run --masks-dir DIR` writes a sweep's; `python -m
evaluator replay --masks FILE` reads one back. The format (version 1):

    pruneboard-masks 1\\n
    {"sha256": "<Mask.sha256()>", "parameters": [["fc1.weight", [64, 64]], ...], "bytes": N}\\n
    N bytes: each parameter's bits in the listed order, one bit a weight (1 = kept), row-major,
             most significant bit first, each parameter padded to a whole byte with zeros

The payload is the sandbox channel's (evaluator/sandbox/channel.py `pack_bits`); "sha256" is
`Mask.sha256()` of the masks (sorted names, shapes and bits), which the run's `masks_sha256`
column holds, and reading a file checks it: a file whose bits do not hash to what it says is
refused, as is one of any other length than its header declares.
"""

from __future__ import annotations

import json
from pathlib import Path

from .pruning import Mask, MaskError
from .sandbox import mask_bytes, pack_bits, unpack_bits

MAGIC = b"pruneboard-masks 1\n"
HEADER_LIMIT = 4 * 1024 * 1024  # longest header line accepted (names and shapes), bytes
SUFFIX = ".masks"


class MaskFileError(ValueError):
    """A file that is not a masks file of this format, or whose content contradicts its header."""


def dumps(mask: Mask) -> bytes:
    """The file's bytes for `mask` (its parameters in the mask's own order: a validated mask's is
    the model's)."""
    layout = [(name, tuple(int(d) for d in mask[name].shape)) for name in mask]
    payload = pack_bits(mask, layout)
    header = {"sha256": mask.sha256(), "parameters": [[n, list(s)] for n, s in layout], "bytes": len(payload)}
    return MAGIC + json.dumps(header, separators=(",", ":")).encode() + b"\n" + payload


def loads(data: bytes, *, name: str = "the masks file") -> Mask:
    """The Mask a file's bytes hold; MaskFileError naming what is wrong otherwise."""
    if not data.startswith(MAGIC):
        raise MaskFileError(f"{name} is not a pruneboard masks file (it does not start with "
                            f"{MAGIC.strip().decode()!r})")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + HEADER_LIMIT)
    if end < 0:
        raise MaskFileError(f"{name}: its header line is missing or longer than {HEADER_LIMIT} bytes")
    try:
        header = json.loads(data[len(MAGIC):end])
        sha, size = header["sha256"], header["bytes"]
        layout = [(str(n), tuple(int(d) for d in shape)) for n, shape in header["parameters"]]
        if not isinstance(sha, str) or not isinstance(size, int) or any(d < 0 for _, s in layout for d in s):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise MaskFileError(f"{name}: malformed header (expected sha256, parameters [[name, shape]], "
                            f"bytes)") from None
    payload = data[end + 1:]
    if size != mask_bytes(layout) or len(payload) != size:
        raise MaskFileError(f"{name}: {len(payload)} bytes of bits, but its parameters need "
                            f"{mask_bytes(layout)} (the file is truncated or padded)")
    try:
        mask = unpack_bits(payload, layout)
    except (ValueError, MaskError) as exc:
        raise MaskFileError(f"{name}: {exc}") from None
    if mask.sha256() != sha:
        raise MaskFileError(f"{name}: its bits hash to {mask.sha256()}, not the {sha} its header says "
                            f"(the file was altered or damaged)")
    return mask


def write(mask: Mask, folder: Path) -> Path:
    """Write `mask` to folder/<sha256>.masks (once: an existing file is the same masks)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{mask.sha256()}{SUFFIX}"
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.write_bytes(dumps(mask))
        partial.replace(path)
    return path


def read(path: Path) -> Mask:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"masks file {path} does not exist")
    return loads(path.read_bytes(), name=str(path))

