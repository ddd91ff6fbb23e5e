"""The only way back out of the sandbox: bounded messages on a pipe the parent owns.

The child writes, per job, one message to an inherited pipe: a header line, then a payload of
exactly the length the header declares.

    {"kind": "masks", "job": 3, "bytes": 4252}\\n  + the masks, bit-packed, one bit a weight
    {"kind": "error", "job": 3, "bytes": 812}\\n   + UTF-8 JSON {"message", "traceback"}
    {"kind": "fatal", "bytes": 812}\\n             + the same, for every job (the file did not load)
    {"kind": "ready", "bytes": 0}\\n               the strategy file loaded: the first job's clock starts

The strategy runs in the same process as the harness that writes these, so everything on the
pipe is untrusted: the parent (`ChannelReader`) checks each header before it reads a payload
byte, accepts 'ready' once and then a result only for the job being computed (jobs in order,
one result each: a result for any other job is a protocol violation, never a restart of a
job's clock), accepts a masks payload only of the exact size the model's prunable parameters need
(bits in the parameters' canonical order: nothing is compressed, so nothing inflates) and a
report only up to `REPORT_BYTES`. Anything else is a `ProtocolError`, the submitter's error,
worded for them. Reports carry no claim about limits: the parent decides that itself.
"""

from __future__ import annotations

import json
import math

import numpy as np
from torch import nn

from ..pruning import Mask
from ..pruning.mask import _prunable_weights

HEADER_BYTES = 512  # longest header line accepted, newline included
MESSAGE_CHARS = 2000  # of an error message shown to the submitter
TRACEBACK_CHARS = 16_000  # of a traceback (or printed output) shown to the submitter
REPORT_BYTES = 24 * 1024  # largest error-report payload accepted (both fields, JSON-encoded)

Layout = list[tuple[str, tuple[int, ...]]]


class ProtocolError(ValueError):
    """What the child sent breaks the protocol; the message is for the submitter."""


def cut(text: str, limit: int) -> str:
    """`text`, at most `limit` characters; a cut text says so and how long it was."""
    text = str(text)
    if len(text) <= limit:
        return text
    note = f" … cut ({len(text):,} characters in all)"
    return text[: max(limit - len(note), 0)] + note


def size_text(n: int) -> str:
    """A byte count as a person reads it: 812 bytes, 34 KB, 2.1 GB (decimal units)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def mask_layout(model: nn.Module) -> Layout:
    """The prunable parameters' names and shapes, in the order their bits travel."""
    return [(name, tuple(p.shape)) for name, p in _prunable_weights(model).items()]


def mask_bytes(layout: Layout) -> int:
    """Exact size of one job's masks on the wire: each parameter's bits, padded to a byte."""
    return sum(math.ceil(math.prod(shape) / 8) for _, shape in layout)


def pack_bits(mask, layout: Layout) -> bytes:
    """The masks' bits in the layout's order, one bit a weight, each parameter padded to a byte
    (`mask_bytes(layout)` bytes). The channel and the masks file (evaluator/maskfile.py) both."""
    return b"".join(np.packbits(np.asarray(mask[name], bool).ravel()).tobytes() for name, _ in layout)


def unpack_bits(payload: bytes, layout: Layout) -> Mask:
    """`pack_bits`'s inverse; `payload` must be exactly `mask_bytes(layout)` long."""
    if len(payload) != mask_bytes(layout):
        raise ValueError(f"{len(payload)} bytes of masks; the layout needs {mask_bytes(layout)}")
    data, offset, arrays = np.frombuffer(payload, np.uint8), 0, {}
    for name, shape in layout:
        n = math.prod(shape)
        end = offset + math.ceil(n / 8)
        arrays[name] = np.unpackbits(data[offset:end], count=n).reshape(shape).astype(bool)
        offset = end
    return Mask(arrays)


# The child's side
def encode_masks(job: int, mask: Mask, layout: Layout) -> bytes:
    payload = pack_bits(mask, layout)
    return _header(kind="masks", job=job, bytes=len(payload)) + payload


def encode_report(message: str, traceback: str = "", job: int | None = None) -> bytes:
    """An error report for one job, or (job None) for every job: a 'fatal' message."""
    payload = json.dumps({"message": cut(message, MESSAGE_CHARS),
                          "traceback": cut(traceback, TRACEBACK_CHARS)}).encode()
    if job is None:
        return _header(kind="fatal", bytes=len(payload)) + payload
    return _header(kind="error", job=job, bytes=len(payload)) + payload


def encode_ready() -> bytes:
    return _header(kind="ready", bytes=0)


def _header(**fields) -> bytes:
    return json.dumps(fields).encode() + b"\n"


# The parent's side
class ChannelReader:
    """Incremental, bounded parser of what the child sent. `feed` returns complete messages:
    ("masks", job, Mask), ("error", job, (message, traceback)), ("fatal", None, (...)) or
    ("ready", None, None).
    It never holds more than one header line and one payload of an accepted size."""

    def __init__(self, layout: Layout, jobs: int):
        self.layout, self.jobs = layout, jobs
        self.expected = mask_bytes(layout)
        self.received = 0  # bytes, for the submitter's message
        self._buffer = bytearray()
        self._pending: dict | None = None  # the header whose payload is being read
        self._ready = False  # 'ready' came: the file loaded, job 0's clock runs
        self._next = 0  # the job being computed: the only one whose result is accepted

    def feed(self, data: bytes) -> list[tuple]:
        self.received += len(data)
        self._buffer += data
        messages = []
        while True:
            if self._pending is None:
                end = self._buffer.find(b"\n", 0, HEADER_BYTES)
                if end < 0:
                    if len(self._buffer) >= HEADER_BYTES:
                        raise ProtocolError("the strategy process sent something that is not a message "
                                            f"(no header line in its first {HEADER_BYTES} bytes)")
                    return messages
                self._pending = self._parse_header(bytes(self._buffer[:end]))
                del self._buffer[: end + 1]
            size = self._pending["bytes"]
            if len(self._buffer) < size:
                return messages
            payload = bytes(self._buffer[:size])
            del self._buffer[:size]
            messages.append(self._message(self._pending, payload))
            self._pending = None

    def _parse_header(self, line: bytes) -> dict:
        try:
            header = json.loads(line)
        except (UnicodeDecodeError, ValueError):
            raise ProtocolError("the strategy process sent a malformed message header") from None
        if not isinstance(header, dict) or header.get("kind") not in ("masks", "error", "fatal", "ready"):
            raise ProtocolError("the strategy process sent a message of an unknown kind")
        size = header.get("bytes")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ProtocolError("the strategy process sent a message without a valid length")
        job = header.get("job")
        if header["kind"] == "ready":
            if size != 0:
                raise ProtocolError("the strategy process sent a malformed message (a payload after 'ready')")
            if self._ready:
                raise ProtocolError("the strategy process sent 'ready' twice")
            self._ready = True
        if header["kind"] in ("masks", "error"):
            if not isinstance(job, int) or isinstance(job, bool) or not 0 <= job < self.jobs:
                raise ProtocolError(f"the strategy process sent a message for job {str(job)[:20]!r}; "
                                    f"there are {self.jobs} jobs")
            if not self._ready:
                raise ProtocolError(f"the strategy process sent a result for job {job} before the "
                                    f"strategy file had loaded")
            if job < self._next:
                raise ProtocolError(f"the strategy process sent two results for job {job}")
            if job > self._next:  # results come one per job, in order: only the job being computed
                raise ProtocolError(f"the strategy process sent a result for job {job} while job "
                                    f"{self._next} was being computed; results come in order, "
                                    f"one per job")
            self._next += 1
        if header["kind"] == "masks" and size != self.expected:
            raise ProtocolError(f"your strategy sent {size_text(size)} of masks; masks for this model "
                                f"are {size_text(self.expected)}")
        if header["kind"] in ("error", "fatal") and size > REPORT_BYTES:
            raise ProtocolError(f"your strategy sent an error report of {size_text(size)}; reports "
                                f"are at most {size_text(REPORT_BYTES)}")
        return {"kind": header["kind"], "job": job, "bytes": size}

    def _message(self, header: dict, payload: bytes) -> tuple:
        if header["kind"] == "masks":
            return ("masks", header["job"], self._unpack(payload))
        if header["kind"] == "ready":
            return ("ready", None, None)
        try:
            report = json.loads(payload)
            message, traceback = report["message"], report.get("traceback", "")
            if not isinstance(message, str) or not isinstance(traceback, str):
                raise TypeError
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
            raise ProtocolError("the strategy process sent a malformed error report") from None
        job = header["job"] if header["kind"] == "error" else None
        return (header["kind"], job, (cut(message, MESSAGE_CHARS), cut(traceback, TRACEBACK_CHARS)))

    def _unpack(self, payload: bytes) -> Mask:
        return unpack_bits(payload, self.layout)
