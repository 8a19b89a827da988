"""Service tiers (batch, flex, priority): how each changes the price when the data has no rate of its own.

The catalogue's own tier prices always win; these documented provider rules are the fallback (see
docs/pricing.md). A tier with no documented rule is priced at standard rates, and the plan's notes say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

TIER_DEFAULT: Final = "default"
TIER_BATCH: Final = "batch"
TIER_FLEX: Final = "flex"
TIER_PRIORITY: Final = "priority"
TIER_FAST: Final = "fast"  # OpenAI's low-latency tier, priced like priority
TIERS: Final = (TIER_DEFAULT, TIER_BATCH, TIER_FLEX, TIER_PRIORITY, TIER_FAST)

_HALF = Decimal("0.5")


@dataclass(frozen=True, slots=True)
class TierRule:
    name: str
    context: dict[str, str]  # genai-prices' price-variant selector
    multiplier: Decimal
    why: str


# (genai-prices provider id, tier) -> (multiplier, published source)
_RULES: dict[tuple[str, str], tuple[Decimal, str]] = {
    ("openai", TIER_BATCH): (_HALF, "OpenAI Batch API: 50% of standard"),
    ("azure", TIER_BATCH): (_HALF, "Azure OpenAI Global Batch: 50% of standard"),
    ("anthropic", TIER_BATCH): (_HALF, "Anthropic Message Batches: 50% of standard"),
    ("google", TIER_BATCH): (_HALF, "Gemini Batch API: 50% of standard"),
    ("aws", TIER_BATCH): (_HALF, "Bedrock batch inference: 50% of on-demand"),
    ("openai", TIER_FLEX): (_HALF, "OpenAI Flex processing: 50% of standard (Batch rates)"),
    # OpenAI publishes priority rates per model (1.7x-2x standard); 2x is the highest ratio, so an unlisted
    # model is never under-costed.
    ("openai", TIER_PRIORITY): (Decimal(2), "OpenAI Priority processing: up to 2x standard"),
    ("openai", TIER_FAST): (Decimal(2), "OpenAI fast processing: priority rates, up to 2x standard"),
    ("anthropic", TIER_PRIORITY): (Decimal(1), "Anthropic Priority Tier bills standard token rates"),
}

_CONTEXTS: dict[str, dict[str, str]] = {
    TIER_BATCH: {"processing": "batch"},
    TIER_FLEX: {"service_tier": "flex"},
    TIER_PRIORITY: {"service_tier": "priority"},
    TIER_FAST: {"service_tier": "fast"},
}


def tier_rule(provider_id: str, tier: str | None) -> TierRule | None:
    """How `tier` is priced at `provider_id`; None for the default tier."""
    if tier is None or tier not in _CONTEXTS:
        return None
    multiplier, why = _RULES.get((provider_id, tier), (Decimal(1), f"no documented {tier} rate: standard"))
    return TierRule(tier, _CONTEXTS[tier], multiplier, why)


def effective_tier(service_tier: str | None, batch: bool) -> str | None:
    """The tier that prices a call: batch wins; `default` and unknown tiers price as standard (None)."""
    if batch or service_tier == TIER_BATCH:
        return TIER_BATCH
    if service_tier in (TIER_FLEX, TIER_PRIORITY, TIER_FAST):
        return service_tier
    return None
