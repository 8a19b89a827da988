"""Exact pricing of normalised LLM calls from the bundled genai-prices data and a price-overrides file.

Pure and offline: `Pricer.load()` reads the overrides file once; `Pricer.price()` never does I/O.
"""

from costline_processor.pricing.overrides import PricingConfigError
from costline_processor.pricing.plan import PricePlan, Rates, Tier
from costline_processor.pricing.pricer import MAX_TOKENS, Pricer, RateCard, usage_problem

__all__ = [
    "MAX_TOKENS",
    "PricePlan",
    "Pricer",
    "PricingConfigError",
    "RateCard",
    "Rates",
    "Tier",
    "usage_problem",
]
