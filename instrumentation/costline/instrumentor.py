"""`CostlineInstrumentor`: auto-instrumentation of the `openai`, `anthropic`, `google-genai`, LiteLLM and
`boto3` (Bedrock Runtime) SDKs.

Usage (either):

    opentelemetry-instrument python app.py          # entry point `costline` loads this instrumentor

    from costline.instrumentor import CostlineInstrumentor
    CostlineInstrumentor().instrument(tracer_provider=provider)

Every LLM call then becomes one CLIENT span named "{operation} {model}" with the OTel GenAI semconv
attributes, provider-reported token usage (input inclusive of cache reads/writes), and the attribution
keys (`workflow_id`, ...) in force (`costline.workflow`). Every SDK is optional: whichever is
importable is instrumented. Keyword arguments of `instrument()`: `tracer_provider`, `capture_content`,
`inject_stream_usage`, `provider_overrides` (defaults from the environment, see `costline._config`).

When the tracer provider (the one given, else the global one, as under `opentelemetry-instrument`) is
an OTel SDK `TracerProvider`, one `AttributionSpanProcessor` is registered on it, so spans costline
does not create carry the attribution too. `uninstrument()` restores the SDK methods exactly.

With `COSTLINE_BUDGETS_URL` set, calls are also checked against budgets (`costline._budget_guard`;
docs/budgets.md): a background thread reads the budgets source, the wrappers only read its snapshot.

What each SDK module wraps: `costline.openai_install`, `costline.anthropic_install` (which also explains
why the anthropic SDK's own span is suppressed during wrapped calls), `costline.google_genai_install`
(which explains why the per-request methods are wrapped), `costline.bedrock_install` (botocore's
`_make_api_call`, and why the botocore instrumentation's Bedrock span is suppressed during wrapped calls),
`costline.litellm_install` (why LiteLLM's entry points are). LiteLLM is wrapped when the app imports it (a
post-import hook), not at `instrument()`: importing it is slow and, unless told otherwise, fetches a price
list from the internet.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.trace import Tracer

from costline import (
    __version__,
    _budget_install,
    anthropic_install,
    bedrock_install,
    google_genai_install,
    litellm_install,
    openai_install,
)
from costline import attributes as a
from costline._budget_settings import load_guard_settings
from costline._config import Settings, load_settings
from costline._patching import Patch, apply, revert
from costline._safety import guard

PatchFinder = Callable[[Tracer, Settings], list[Patch]]


class CostlineInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments whichever of `openai`, `anthropic`, `google-genai`, `litellm` and `boto3` is installed."""

    _patches: list[Patch]
    _instrumented: bool = False

    def instrumentation_dependencies(self) -> Collection[str]:
        # Every SDK is optional; a hard requirement would stop opentelemetry-instrument loading us.
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        settings = load_settings(
            capture_content=kwargs.get("capture_content"),
            inject_stream_usage=kwargs.get("inject_stream_usage"),
            provider_overrides=kwargs.get("provider_overrides"),
        )
        tracer_provider = kwargs.get("tracer_provider")
        tracer = trace.get_tracer(a.INSTRUMENTATION_SCOPE, __version__, tracer_provider=tracer_provider)
        applied: list[Patch] = []
        found = (
            openai_install.patches(tracer, settings)
            + anthropic_install.patches(tracer, settings)
            + google_genai_install.patches(tracer, settings)
            + bedrock_install.patches(tracer, settings)
        )
        for patch in found:
            if apply(patch):
                applied.append(patch)
        # Accumulate: a second _instrument() (bypassing BaseInstrumentor's guard) applies nothing new.
        self._patches = [*getattr(self, "_patches", []), *applied]
        self._instrumented = True
        self._on_import(litellm_install.MODULE, litellm_install.patches, tracer, settings)
        _register_attribution_processor(tracer_provider)
        with guard("instrumentor.budgets"):
            _budget_install.install(load_guard_settings())

    def _on_import(self, module: str, patches: PatchFinder, tracer: Tracer, settings: Settings) -> None:
        """Apply `patches` when `module` is imported (at once if it is already); not after uninstrument()."""

        def hook(_module: object) -> None:
            with guard("instrumentor.post_import"):
                if self._instrumented:
                    self._patches += [patch for patch in patches(tracer, settings) if apply(patch)]

        wrapt.register_post_import_hook(hook, module)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._instrumented = False
        _budget_install.uninstall()
        for patch in reversed(getattr(self, "_patches", [])):
            revert(patch)
        self._patches = []


def _register_attribution_processor(tracer_provider: Any) -> None:
    """Add the AttributionSpanProcessor to the SDK provider (given, else global), once (`register` is
    idempotent and ignores providers that are not the OTel SDK's)."""
    with guard("instrumentor.register_span_processor"):
        try:
            from costline.span_processor import register  # noqa: PLC0415 - needs the optional OTel SDK
        except ImportError:  # the OTel SDK is not installed: there is no SDK provider to add it to
            return
        register(tracer_provider)
