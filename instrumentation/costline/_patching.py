"""What to wrap, and wrapping/unwrapping it exactly once.

SDK modules describe their targets as `Patch(owner, attribute, wrapper)`; the instrumentor applies them.
A target already carrying a costline wrapper (anywhere in its wrapper chain) is not wrapped again, and
unwrapping restores the very function object that was there before.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import wrapt

from costline._span import Surface
from costline._wrapper import Starter, Wrapper, async_wrapper, sync_wrapper

_MARK = "__costline_wrapper__"


@dataclass(frozen=True, slots=True)
class Patch:
    owner: Any  # a class or module
    attribute: str
    wrapper: Wrapper


def resolve(module: str, *path: str) -> Any | None:
    """`module.path[0].path[1]...`, or None when this SDK version does not have it (optional APIs)."""
    try:
        target: Any = importlib.import_module(module)
    except ImportError:
        return None
    for name in path:
        target = getattr(target, name, None)
        if target is None:
            return None
    return target


def method_patch(owner: Any, attribute: str, starter: Starter) -> Patch | None:
    """Wrap `owner.attribute` with the sync or async generic wrapper, matching the method."""
    if owner is None or not callable(getattr(owner, attribute, None)):
        return None
    # SDK decorators (`required_args`) hide the coroutine function behind a sync one: look underneath.
    function = inspect.unwrap(getattr(owner, attribute))
    wrapper = async_wrapper(starter) if inspect.iscoroutinefunction(function) else sync_wrapper(starter)
    return Patch(owner, attribute, wrapper)


def custom_patch(owner: Any, attribute: str, wrapper: Wrapper) -> Patch | None:
    if owner is None or not callable(getattr(owner, attribute, None)):
        return None
    return Patch(owner, attribute, wrapper)


def _ours(value: Any) -> bool:
    """Whether `value` is (or wraps, at any depth) a costline wrapper."""
    seen = 0
    while value is not None and seen < 16:
        if getattr(getattr(value, "_self_wrapper", None), _MARK, False):
            return True
        value = getattr(value, "__wrapped__", None)
        seen += 1
    return False


def apply(patch: Patch) -> bool:
    """Wrap the target; False when it is already costline-wrapped."""
    if _ours(patch.owner.__dict__.get(patch.attribute)):
        return False
    setattr(patch.wrapper, _MARK, True)
    wrapt.wrap_function_wrapper(patch.owner, patch.attribute, patch.wrapper)
    return True


def revert(patch: Patch) -> None:
    """Put the original back if our wrapper is the outermost one (never strip someone else's).

    Our wrapper may be a `BoundFunctionWrapper` by then: another instrumentation wrapping the same method
    and removing itself with opentelemetry's `unwrap` puts back what class attribute access returned.
    """
    current = patch.owner.__dict__.get(patch.attribute)
    if getattr(getattr(current, "_self_wrapper", None), _MARK, False):
        setattr(patch.owner, patch.attribute, current.__wrapped__)


SurfacePatches = Callable[[Surface, Starter], list[Patch | None]]
