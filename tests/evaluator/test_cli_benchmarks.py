"""`python -m evaluator benchmarks` names each benchmark's dense top-1 and where it comes from."""

from evaluator.cli import main


def test_benchmarks_show_the_published_top1_of_pinned_published_weights(capsys):
    assert main(["benchmarks"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert "91.78% (published)" in lines["cifar10-resnet20"]
    assert "93.62% (published)" in lines["cifar10-resnet56"]
    assert "published" not in lines["cifar10-resnet110"] and "published" not in lines["digits-mlp"]
    assert "98.33%" in lines["digits-mlp"]
