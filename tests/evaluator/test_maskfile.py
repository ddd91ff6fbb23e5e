"""The masks file: bit-packed as the masks crossed the sandbox, self-describing, and refused
when its bits are not what its header says."""

import json

import numpy as np
import pytest

from evaluator import maskfile
from evaluator.models import get_model
from evaluator.pruning import Mask
from evaluator.sandbox import mask_bytes, pack_bits


@pytest.fixture
def mask():
    model = get_model("digits_mlp", num_classes=10)
    rng = np.random.default_rng(0)
    return Mask.validate(model, {n: rng.random(p.shape) < 0.3 for n, p in model.named_parameters()
                                 if n.endswith("weight")})


def test_a_file_reads_back_to_the_same_masks_and_names_their_sha256(mask, tmp_path):
    path = maskfile.write(mask, tmp_path)
    assert path.name == f"{mask.sha256()}.masks"
    assert maskfile.read(path) == mask


def test_its_bits_are_the_sandbox_channels_and_its_header_lists_names_shapes_and_the_hash(mask):
    data = maskfile.dumps(mask)
    magic, header, payload = data.split(b"\n", 2)
    layout = [(n, tuple(a.shape)) for n, a in mask.items()]
    assert magic + b"\n" == maskfile.MAGIC
    assert json.loads(header) == {"sha256": mask.sha256(), "parameters": [[n, list(s)] for n, s in layout],
                                  "bytes": mask_bytes(layout)}
    assert payload == pack_bits(mask, layout)


def test_a_flipped_bit_is_refused_with_both_hashes(mask):
    data = bytearray(maskfile.dumps(mask))
    data[-1] ^= 0x80
    with pytest.raises(maskfile.MaskFileError, match="hash to .* not the .* its header says"):
        maskfile.loads(bytes(data))


@pytest.mark.parametrize("damage, message", [
    (lambda d: d[:-3], "truncated or padded"),
    (lambda d: d + b"\0", "truncated or padded"),
    (lambda d: b"PK\x03\x04" + d, "not a pruneboard masks file"),
    (lambda d: maskfile.MAGIC + b'{"sha256": 1}\n', "malformed header"),
    (lambda d: maskfile.MAGIC + b"x" * 100, "header line is missing"),
])
def test_a_damaged_or_foreign_file_is_refused_saying_why(mask, damage, message):
    with pytest.raises(maskfile.MaskFileError, match=message):
        maskfile.loads(damage(maskfile.dumps(mask)))


def test_a_missing_file_names_its_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.masks"):
        maskfile.read(tmp_path / "nothing.masks")
