"""The public surface of `import costline`: explicit, light, with the heavy parts loaded on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import costline


def test_all_names_resolve() -> None:
    assert sorted(costline.__all__) == sorted(
        [
            "AttributionSpanProcessor",
            "BudgetExceeded",
            "CostlineInstrumentor",
            "__version__",
            "current_attribution",
            "propagate_context",
            "record_outcome",
            "workflow",
        ]
    )
    for name in costline.__all__:
        assert getattr(costline, name) is not None
    from costline.span_processor import AttributionSpanProcessor

    assert costline.AttributionSpanProcessor is AttributionSpanProcessor


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = costline.nope  # type: ignore[attr-defined]


def test_import_costline_loads_neither_the_sdk_nor_llm_sdks() -> None:
    probe = (
        "import sys, costline;"
        "heavy = [m for m in ('opentelemetry.sdk', 'openai', 'anthropic', 'google.genai', 'wrapt',"
        " 'costline.instrumentor', 'costline._budget_guard', 'urllib.request')"
        " if m in sys.modules];"
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
