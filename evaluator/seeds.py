"""Seeding, kept apart from finetuning so the sandbox child imports no dataset code (and no
torchvision: about 2.5 s of every sandbox's start-up)."""

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed every generator a run touches; called before anything random happens."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
