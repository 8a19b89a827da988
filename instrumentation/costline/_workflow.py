"""`costline.workflow`: tag a block of work (and every LLM call in it) with its business attribution.

The keys go into OTel baggage, so they follow the code wherever OTel context goes: nested calls, asyncio
tasks (contextvars are copied into each task), `asyncio.to_thread`, and downstream services through the
baggage propagator. They are also recorded as set in this process, which is all that attributes work when
`COSTLINE_TRUST_INBOUND_BAGGAGE=false` (see `costline.baggage`). Plain thread pools do not copy context;
wrap the submitted function with `propagate_context`.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry import context as otel_context

from costline import attributes
from costline._validation import validate_value
from costline.baggage import with_workflow_attribution

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def _attached(values: dict[str, str]) -> Iterator[None]:
    token = otel_context.attach(with_workflow_attribution(values, otel_context.get_current()))
    try:
        yield
    finally:
        otel_context.detach(token)


class workflow:  # lower-case: used like contextlib's context managers
    """Attribute the enclosed work to `workflow_id` (and optionally a feature, tenant and user).

    Use as `with costline.workflow("support", tenant_id="acme"): ...` or as a decorator on a sync or
    async function (the keys are set on each call). Nested workflows override the keys they give and
    inherit the rest. Invalid values raise `ValueError` here, at the call site.
    """

    def __init__(
        self,
        workflow_id: str,
        *,
        feature_id: str | None = None,
        tenant_id: str | None = None,
        user_id: str | None = None,
    ) -> None:
        optional = {
            attributes.FEATURE_ID: feature_id,
            attributes.TENANT_ID: tenant_id,
            attributes.USER_ID: user_id,
        }
        self._values = {attributes.WORKFLOW_ID: validate_value(attributes.WORKFLOW_ID, workflow_id)}
        self._values.update(
            {key: validate_value(key, value) for key, value in optional.items() if value is not None}
        )
        # A stack, so one instance can be re-entered (`with wf: ... with wf: ...`).
        self._active: list[AbstractContextManager[None]] = []

    @property
    def values(self) -> dict[str, str]:
        """The keys this workflow sets (a copy)."""
        return dict(self._values)

    def __enter__(self) -> workflow:
        cm = _attached(self._values)
        cm.__enter__()
        self._active.append(cm)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._active.pop().__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                "costline.workflow cannot decorate a generator: its body runs after the call returns. "
                "Use `with costline.workflow(...):` inside the generator instead."
            )
        values = self._values
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with _attached(values):
                    return await func(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _attached(values):
                return func(*args, **kwargs)

        return cast(F, wrapper)


def propagate_context(func: Callable[P, R]) -> Callable[P, R]:
    """Bind `func` to the current context (workflow, span), for running it in another thread.

    `pool.submit(costline.propagate_context(fn), x)`: the context is captured now, when wrapping; each call
    runs in a fresh copy of it, so one wrapped function may run in many threads at once.
    """
    captured = contextvars.copy_context()

    @functools.wraps(func)
    def run_in_captured(*args: P.args, **kwargs: P.kwargs) -> R:
        return captured.copy().run(func, *args, **kwargs)

    return run_in_captured
