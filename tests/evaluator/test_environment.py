import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def wait_policy_after_import(preset: str | None) -> str:
    """OMP_WAIT_POLICY in a fresh process once the package is imported. Its __init__ runs before
    any evaluator module can load torch, whose OpenMP runtime reads the variable as it loads."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if preset is not None:
        env["OMP_WAIT_POLICY"] = preset
    code = "import evaluator, os, sys; assert 'torch' not in sys.modules; print(os.environ['OMP_WAIT_POLICY'])"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_torchs_idle_threads_sleep_instead_of_spinning_unless_the_operator_says_otherwise():
    assert wait_policy_after_import(None) == "PASSIVE"
    assert wait_policy_after_import("ACTIVE") == "ACTIVE"
