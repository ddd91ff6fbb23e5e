"""pruneboard's trusted pruning harness: plain Python + PyTorch, never imports Django."""

__version__ = "0.1.0"
