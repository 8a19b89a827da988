"""`@value_class`: an immutable, slotted dataclass to the type checker, a plain slotted one at run time.

A frozen dataclass's `__init__` sets every field through `object.__setattr__`, about three times slower than
plain assignment. The per-call records (`LlmCall` has 25 fields) are built for every LLM span the processor
receives, and their frozen construction alone was ~3 µs of the ~34 µs a span took through the pipeline
(bench_processor.py). Nothing assigns to them after construction; the type checker still enforces that,
and `unsafe_hash` keeps them hashable exactly as a frozen dataclass is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True)  # the type checker's view: frozen, like dataclass(frozen=True)
def value_class(cls: type[T]) -> type[T]:
    return dataclass(slots=True, unsafe_hash=True)(cls)
