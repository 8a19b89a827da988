"""`costline prices show MODEL`: the rates costline prices a model at, per token type, and their source."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from costline_processor.normalize.providers import normalize_provider
from costline_processor.pricing import Pricer, PricingConfigError, RateCard
from costline_processor.pricing.service_tiers import TIERS

_ROWS = (
    ("input", "input"),
    ("cache read", "cache_read"),
    ("cache write 5m", "cache_write"),
    ("cache write 1h", "cache_write_1h"),
    ("output", "output"),
    ("reasoning", "reasoning"),
)


@click.group()
def prices() -> None:
    """Inspect the prices costline uses (bundled genai-prices data plus your overrides; never fetched)."""


@prices.command()
@click.argument("model")
@click.option(
    "--provider",
    help="gen_ai.provider.name as on the span, e.g. openai, anthropic, openai_compatible (default: unknown).",
)
@click.option(
    "--at", "at", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), help="Date (UTC); default now."
)
@click.option("--service-tier", type=click.Choice(TIERS), help="Price a batch/flex/priority call.")
@click.option(
    "--price-overrides",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="COSTLINE_PRICE_OVERRIDES",
    help="Price overrides YAML (custom models, discounts).",
)
def show(
    model: str,
    provider: str | None,
    at: datetime | None,
    service_tier: str | None,
    price_overrides: Path | None,
) -> None:
    """Print MODEL's resolved rates (USD per million tokens), its long-context tiers, and their source.

    The same resolution `costline serve` applies to a span of this provider and model: for a provider the
    catalogue does not list (openai_compatible, unknown), the model's maker is inferred from the model id.
    """
    try:
        pricer = Pricer.load(price_overrides)
    except PricingConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    when = at.replace(tzinfo=UTC) if at is not None else None
    tier = None if service_tier == "default" else service_tier
    try:
        # normalised like a span's provider: the same (provider, model) resolves as in `costline serve`
        card = pricer.describe(model, normalize_provider(provider) if provider else None, when, tier)
    except LookupError as exc:
        raise click.ClickException(
            f"{exc}: calls to it are counted as unpriced (reason unknown_model)"
        ) from exc
    _print(card)


def _print(card: RateCard) -> None:
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"model      {card.model} -> {card.model_id}")
    console.print(f"provider   {card.provider}")
    console.print(f"at         {_day(card.at.date())} UTC, service tier {card.service_tier or 'default'}")
    console.print(f"source     {card.source}")
    # one column per long-context tier: fits any terminal, however many token types there are
    columns = [("all input sizes" if not card.tiers else f"input <= {card.tiers[0].above:,}", card.base)]
    columns += [(f"input > {tier.above:,}", tier.rates) for tier in card.tiers]
    table = Table("USD per million tokens", *(title for title, _ in columns))
    for title, key in _ROWS:
        table.add_row(title, *(_money(rates.as_dict()[key]) for _, rates in columns))
    table.add_row("per request (USD)", *(_money(rates.request) for _, rates in columns))
    console.print(table)
    if card.tiers:
        console.print("A request above a threshold pays that tier's rates on ALL its tokens.")
    for note in card.notes:
        console.print(f"note: {note}")


def _money(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return f"${text}"


def _day(value: date) -> str:
    return value.isoformat()
