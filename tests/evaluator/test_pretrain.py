import dataclasses

from evaluator.benchmarks import get_benchmark
from evaluator.pretrain import pretrain
from evaluator.weights import sha256_file


def test_pretraining_twice_writes_byte_identical_weights_and_their_checksum(tmp_path):
    benchmark = get_benchmark("digits-mlp")
    quick = dataclasses.replace(benchmark, pretrain=dataclasses.replace(benchmark.pretrain, epochs=2))
    first, sha1, top1 = pretrain(quick, out_dir=tmp_path / "a", device="cpu", log=lambda _: None)
    second, sha2, _ = pretrain(quick, out_dir=tmp_path / "b", device="cpu", log=lambda _: None)
    assert sha1 == sha2 == sha256_file(first) == sha256_file(second)
    assert first.with_suffix(".sha256").read_text().startswith(sha1)
    assert top1 > 0.5  # two epochs already learn the digits
