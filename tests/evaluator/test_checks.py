import pytest

from evaluator.checks import UploadRejected, check_strategy_source

GOOD = b"""
from evaluator.pruning import LayerPruning, VisionPruning
import evaluator.pruning as p

class Mine(LayerPruning, VisionPruning):
    def layer_masks(self, module):
        return {}

class Child(Mine):
    pass

class Other(p.GlobalMagWeight):
    pass
"""


def test_it_finds_every_strategy_class_including_subclasses_of_ones_defined_above():
    assert check_strategy_source("mine.py", GOOD) == ["Mine", "Child", "Other"]


@pytest.mark.parametrize("filename, data, message", [
    ("mine.txt", GOOD, "must be a Python file ending in .py"),
    ("mine.py", GOOD + b"#" * 300_000, "the limit is 256 KB"),
    ("mine.py", b"   \n", "the file is empty"),
    ("mine.py", GOOD + b"\0", "contains a null byte"),
    ("mine.py", b"# caf\xe9\n" + GOOD, r"not UTF-8 text \(byte 0xe9 at position 5\)"),
    ("mine.py", b"class Broken(:\n", "does not parse as Python: line 1"),
    ("mine.py", b"class Plain:\n    pass\n", "defines no strategy"),
    ("mine.py", b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "is a zip archive, not Python"),
])
def test_it_rejects_what_cannot_be_a_strategy_and_says_why(filename, data, message):
    with pytest.raises(UploadRejected, match=message):
        check_strategy_source(filename, data)
