"""pruneboard's trusted pruning harness: plain Python + PyTorch, never imports Django."""

import os

__version__ = "0.1.0"

# torch's OpenMP threads sleep when they wait for work instead of spinning at every barrier
# (libgomp's default spins about 300,000 times first). On a CPU shared with other processes a
# spinning thread holds the core that the thread it waits for needs, and every small op pays
# for it: a mnist1d-cnn forward and backward, 2 threads on 2 busy cores, cost about 10x the CPU.
# Only idle threads change: the work is split between threads as before, so every result is
# the same. OpenMP reads it once, when torch loads, so it is set here, before any evaluator
# module imports torch (the CLI, the sandbox child and Django's settings all import this package
# first); an operator's own OMP_WAIT_POLICY wins. See docs/benchmarks.md (run cost).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
