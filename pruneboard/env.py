"""Settings read the environment loudly: a malformed value is an error, never a silent default.
The evaluator's reader (evaluator/env.py) parses; these raise ImproperlyConfigured."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from evaluator import env



def env_str(name: str, default: str) -> str:
    """NAME's value; or, where NAME_FILE is set instead, the contents of that file (a Docker or
    Kubernetes secret), without its trailing newline. Both set is an error."""
    path = os.environ.get(f"{name}_FILE")
    if path is None:
        return os.environ.get(name, default)
    if name in os.environ:
        raise ImproperlyConfigured(f"both {name} and {name}_FILE are set; set one")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().rstrip("\r\n")
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from None


def env_bool(name: str, default: bool) -> bool:
    try:
        return env.env_bool(name, default)
    except env.EnvError as exc:
        raise ImproperlyConfigured(str(exc)) from None


def env_float(name: str, default: float) -> float:
    try:
        return env.env_float(name, default, blank_is_default=False)
    except env.EnvError as exc:
        raise ImproperlyConfigured(str(exc)) from None


def env_int(name: str, default: int) -> int:
    try:
        return env.env_int(name, default, blank_is_default=False)
    except env.EnvError as exc:
        raise ImproperlyConfigured(str(exc)) from None


def env_float(name: str, default: float) -> float:
    try:
        return env.env_float(name, default, blank_is_default=False)
    except env.EnvError as exc:
        raise ImproperlyConfigured(str(exc)) from None


def env_list(name: str, default: list[str]) -> list[str]:
    if name not in os.environ:
        return default
    return [item.strip() for item in os.environ[name].split(",") if item.strip()]
