"""costline.workflow: sets attribution baggage, nests, restores, and follows tasks and threads."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import baggage, context

import costline
from costline import attributes
from costline._workflow import workflow

WF, FEAT, TENANT, USER = (
    attributes.WORKFLOW_ID,
    attributes.FEATURE_ID,
    attributes.TENANT_ID,
    attributes.USER_ID,
)


def test_sets_baggage_and_restores_on_exit() -> None:
    assert costline.current_attribution() == {}
    with costline.workflow("support", feature_id="triage", tenant_id="acme", user_id="ana+1@example.com"):
        assert baggage.get_baggage(WF) == "support"
        assert costline.current_attribution() == {
            WF: "support",
            FEAT: "triage",
            TENANT: "acme",
            USER: "ana+1@example.com",
        }
    assert costline.current_attribution() == {}
    assert baggage.get_all() == {}


def test_keeps_other_baggage() -> None:
    token = context.attach(baggage.set_baggage("region", "eu"))
    try:
        with costline.workflow("support"):
            assert baggage.get_all() == {"region": "eu", WF: "support"}
        assert baggage.get_all() == {"region": "eu"}
    finally:
        context.detach(token)


def test_nesting_overrides_given_keys_and_inherits_the_rest() -> None:
    with costline.workflow("support", tenant_id="acme", feature_id="chat"):
        with costline.workflow("billing", feature_id="refunds"):
            assert costline.current_attribution() == {WF: "billing", FEAT: "refunds", TENANT: "acme"}
        assert costline.current_attribution() == {WF: "support", FEAT: "chat", TENANT: "acme"}


def test_restores_outer_attribution_when_the_block_raises() -> None:
    with costline.workflow("outer", tenant_id="acme"):
        with pytest.raises(RuntimeError, match="boom"), costline.workflow("inner", tenant_id="globex"):
            raise RuntimeError("boom")
        assert costline.current_attribution() == {WF: "outer", TENANT: "acme"}
    assert costline.current_attribution() == {}


def test_one_instance_can_be_reentered() -> None:
    support = costline.workflow("support")
    with support, costline.workflow("inner"), support:
        assert costline.current_attribution() == {WF: "support"}
    assert costline.current_attribution() == {}


def test_decorator_sets_baggage_per_call_not_at_decoration() -> None:
    seen: list[dict[str, str]] = []

    @costline.workflow("digest", tenant_id="acme")
    def job(x: int) -> int:
        seen.append(costline.current_attribution())
        return x * 2

    assert costline.current_attribution() == {}  # decorating set nothing
    assert job(21) == 42
    assert job.__name__ == "job"
    assert seen == [{WF: "digest", TENANT: "acme"}]
    assert costline.current_attribution() == {}


def test_decorator_restores_on_exception() -> None:
    @costline.workflow("digest")
    def job() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        job()
    assert costline.current_attribution() == {}


async def test_async_decorator_stays_a_coroutine_function() -> None:
    @costline.workflow("async_job", feature_id="summaries")
    async def job(delay: float) -> dict[str, str]:
        await asyncio.sleep(delay)
        return costline.current_attribution()

    assert inspect.iscoroutinefunction(job)
    assert await job(0) == {WF: "async_job", FEAT: "summaries"}
    assert costline.current_attribution() == {}


def test_decorating_a_generator_is_refused() -> None:
    with pytest.raises(TypeError, match="generator"):

        @costline.workflow("gen")
        def gen() -> object:
            yield 1

    with pytest.raises(TypeError, match="generator"):

        @costline.workflow("agen")
        async def agen() -> object:
            yield 1


async def test_follows_asyncio_tasks_and_keeps_them_apart() -> None:
    async def attributed(name: str) -> dict[str, str]:
        with costline.workflow(name):
            await asyncio.sleep(0.01)  # interleave with the other tasks
            return await asyncio.create_task(read_after_yield())

    async def read_after_yield() -> dict[str, str]:
        await asyncio.sleep(0)
        return costline.current_attribution()

    results = await asyncio.gather(*(attributed(f"wf{i}") for i in range(5)))
    assert results == [{WF: f"wf{i}"} for i in range(5)]

    with costline.workflow("parent", tenant_id="acme"):
        task = asyncio.create_task(read_after_yield())
    # The task copied the context when it was created, so it keeps the attribution after the block ends.
    assert await task == {WF: "parent", TENANT: "acme"}
    assert await asyncio.to_thread(costline.current_attribution) == {}


def test_plain_thread_pools_do_not_carry_it_but_propagate_context_does() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        with costline.workflow("batch", tenant_id="acme"):
            plain = pool.submit(costline.current_attribution).result(timeout=10)
            wrapped = costline.propagate_context(costline.current_attribution)
            carried = [f.result(timeout=10) for f in [pool.submit(wrapped) for _ in range(4)]]
            ctx = contextvars.copy_context()
            via_ctx_run = pool.submit(ctx.run, costline.current_attribution).result(timeout=10)
        after = pool.submit(wrapped).result(timeout=10)
    assert plain == {}
    assert carried == [{WF: "batch", TENANT: "acme"}] * 4
    assert via_ctx_run == {WF: "batch", TENANT: "acme"}
    assert after == {WF: "batch", TENANT: "acme"}  # captured when wrapped, not when run
    assert costline.current_attribution() == {}


def test_propagate_context_keeps_name_and_arguments() -> None:
    def add(a: int, *, b: int) -> int:
        return a + b

    wrapped = costline.propagate_context(add)
    assert wrapped(1, b=2) == 3
    assert wrapped.__name__ == "add"


def test_values_property_is_a_copy() -> None:
    wf = workflow("support", user_id="u1")
    wf.values["workflow_id"] = "changed"
    assert wf.values == {WF: "support", USER: "u1"}
