"""The README's figures for `make run`'s fill-in agree with each other and with the registries:
every built-in method a target's track shows on every compression and seed of every embedded target."""

import re
from pathlib import Path

from evaluator.benchmarks import list_benchmarks
from evaluator.tracks import get_track

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_fill_in_run_count_is_the_same_everywhere_and_right():
    targets = [b for b in list_benchmarks() if b.embedded]
    runs = sum(len(b.compressions) * len(b.seeds) * len(get_track(b.track).builtin_names(b)) for b in targets)
    said = re.findall(r"([\d,]+)-run baseline fill-in", README) + list(re.findall(
        r"on each of their tracks \((\d+) targets, [^)]*\): ([\d,]+) runs", README, re.S)[0][1:])
    assert said and {int(n.replace(",", "")) for n in said} == {runs}
    assert f"({len(targets)} targets" in README
