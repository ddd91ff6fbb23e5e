"""Fixtures of the evaluator's tests."""

import subprocess

import pytest


@pytest.fixture
def cli_main(capsys):
    """`python -m evaluator ARGS` in this process (the same argument parsing, output and exit
    codes as the command, without a Python and torch start-up: about 6 s each): a
    CompletedProcess with returncode, stdout and stderr."""
    from evaluator.cli import main

    def call(*args):
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's errors and --help
            code = exc.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code or 0, out, err)

    return call
