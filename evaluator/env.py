"""The evaluator's one reader of the environment, loud like the site's settings: a malformed value
is an error that names the variable (`EnvError`), never a silent default. pruneboard/env.py wraps
these for Django (ImproperlyConfigured).

    env_bool("PRUNEBOARD_ALLOW_UNSANDBOXED", False)    # 1/0, true/false, yes/no, on/off
    env_int("PRUNEBOARD_SANDBOX_UID_BASE", 200_000, minimum=0)
    env_str("PRUNEBOARD_SANDBOX_CGROUP", "auto", choices=("auto", "off"))
"""

from __future__ import annotations

import os

TRUE, FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off", ""})


class EnvError(ValueError):
    """An environment variable's value is malformed; the message names the variable."""


def env_str(name: str, default: str, *, choices: tuple[str, ...] | None = None) -> str:
    """NAME's value (blank: `default`); one of `choices` where given."""
    value = os.environ.get(name, "").strip() or default
    if choices is not None and value not in choices:
        raise EnvError(f"{name}={value!r}; known: {', '.join(choices)}")
    return value


def env_bool(name: str, default: bool) -> bool:
    """1/true/yes/on or 0/false/no/off (case aside; set but blank: false); anything else raises."""
    if name not in os.environ:
        return default
    value = os.environ[name].strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise EnvError(f"{name}={os.environ[name]!r} is not a boolean (use 1/0, true/false, yes/no)")


def _number(name: str, default, cast, kind: str, minimum, blank_is_default: bool):
    raw = os.environ.get(name)
    if raw is None or (blank_is_default and not raw.strip()):
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise EnvError(f"{name}={raw!r} is not {kind}") from None
    if minimum is not None and value < minimum:
        raise EnvError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def env_int(name: str, default: int, *, minimum: int | None = None, blank_is_default: bool = True) -> int:
    return _number(name, default, int, "an integer", minimum, blank_is_default)


def env_float(name: str, default: float, *, minimum: float | None = None, blank_is_default: bool = True) -> float:
    return _number(name, default, float, "a number", minimum, blank_is_default)
