"""The channel out of the sandbox: exact-size masks, capped reports, nothing else."""

import json

import numpy as np
import pytest

from evaluator.sandbox.channel import (HEADER_BYTES, REPORT_BYTES, ChannelReader, ProtocolError, cut,
                               encode_masks, encode_ready, encode_report, mask_bytes, mask_layout)
from evaluator.models import get_model
from evaluator.pruning import Mask

LAYOUT = [("a.weight", (3, 5)), ("b.weight", (2, 2, 3))]  # 15 bits -> 2 bytes, 12 bits -> 2 bytes


def a_mask(seed=0):
    rng = np.random.default_rng(seed)
    return Mask({name: rng.random(shape) < 0.5 for name, shape in LAYOUT})


def header(**fields):
    return json.dumps(fields).encode() + b"\n"


def test_masks_travel_as_bits_and_come_back_equal_even_fed_a_byte_at_a_time():
    mask = a_mask()
    reader = ChannelReader(LAYOUT, jobs=2)
    stream = encode_ready() + encode_masks(0, mask, LAYOUT) + encode_report("ValueError: x", "tb", job=1)
    messages = [m for byte in stream for m in reader.feed(bytes([byte]))]
    assert [m[0] for m in messages] == ["ready", "masks", "error"]
    assert messages[1][1] == 0 and messages[1][2] == mask
    assert messages[2][1] == 1 and messages[2][2] == ("ValueError: x", "tb")


def test_the_wire_size_of_masks_is_one_bit_a_weight_padded_per_parameter():
    assert mask_bytes(LAYOUT) == 4
    layout = mask_layout(get_model("digits_mlp"))
    assert mask_bytes(layout) == sum(-(-int(np.prod(s)) // 8) for _, s in layout) == 37_504


def test_masks_of_any_other_size_are_refused_before_a_byte_is_read_saying_both_sizes():
    reader = ChannelReader(LAYOUT, jobs=1)
    with pytest.raises(ProtocolError, match=r"your strategy sent 2.15 GB of masks; masks for this model are 4 bytes"):
        reader.feed(encode_ready() + header(kind="masks", job=0, bytes=2_147_483_648))
    assert reader.received < 100


def test_an_oversized_report_is_refused_and_a_long_one_is_cut():
    reader = ChannelReader(LAYOUT, jobs=1)
    with pytest.raises(ProtocolError, match="error report of 16.8 MB; reports are at most 24.6 KB"):
        reader.feed(encode_ready() + header(kind="error", job=0, bytes=16_800_000))
    [_, (_, _, (message, traceback))] = ChannelReader(LAYOUT, 1).feed(
        encode_ready() + encode_report("M" * 10_000, "T" * 100_000, job=0))
    assert len(message) == 2000 and message.endswith("cut (10,000 characters in all)")
    assert len(traceback) == 16_000
    assert len(encode_report("M" * 10_000, "T" * 100_000, job=0)) < REPORT_BYTES


@pytest.mark.parametrize("stream, expected", [
    (b"x" * HEADER_BYTES, "not a message"),
    (b"{not json\n", "malformed message header"),
    (header(kind="limit", job=0, bytes=0), "unknown kind"),
    (header(kind="masks", job=0, bytes=-1), "valid length"),
    (header(kind="masks", job=True, bytes=4), "for job 'True'"),
    (header(kind="masks", job=3, bytes=4), "for job '3'; there are 1 jobs"),
    (header(kind="error", job=0, bytes=3) + b"{{{", "malformed error report"),
    (header(kind="error", job=0, bytes=14) + b'{"message": 1}', "malformed error report"),
    (header(kind="ready", bytes=5) + b"hello", "payload after 'ready'"),
    (encode_masks(0, a_mask(), LAYOUT) * 2, "two results for job 0"),
    (encode_ready(), "sent 'ready' twice"),
])
def test_anything_off_protocol_is_the_submitters_error_in_words(stream, expected):
    with pytest.raises(ProtocolError, match=expected):
        ChannelReader(LAYOUT, jobs=1).feed(encode_ready() + stream)


@pytest.mark.parametrize("stream, expected", [
    (encode_ready() + encode_report("forged", job=2), "a result for job 2 while job 0 was being computed"),
    (encode_ready() + encode_masks(0, a_mask(), LAYOUT) + encode_report("forged", job=2),
     "a result for job 2 while job 1 was being computed; results come in order, one per job"),
    (encode_masks(0, a_mask(), LAYOUT), "a result for job 0 before the strategy file had loaded"),
])
def test_only_the_job_being_computed_may_answer_in_order(stream, expected):
    with pytest.raises(ProtocolError, match=expected):
        ChannelReader(LAYOUT, jobs=3).feed(stream)


def test_a_claimed_limit_in_a_report_is_not_carried_back():
    payload = json.dumps({"message": "ran out of memory", "traceback": "", "limit": "memory"}).encode()
    [_, message] = ChannelReader(LAYOUT, 1).feed(
        encode_ready() + header(kind="error", job=0, bytes=len(payload), limit="memory") + payload)
    assert message == ("error", 0, ("ran out of memory", ""))


def test_cut_keeps_short_texts_and_says_how_long_a_cut_one_was():
    assert cut("short", 10) == "short"
    assert cut("x" * 50, 40) == "x" * 11 + " … cut (50 characters in all)"
