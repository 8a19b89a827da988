"""`costline prices show`: resolved rates per token type, tiers and source, as a user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from costline_processor.commands.prices import prices

TESTDATA = Path(__file__).parent / "testdata" / "overrides"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(prices, ["show", *args])
    return result.exit_code, result.output


def test_show_catalogue_model_with_long_context_tier() -> None:
    code, out = run("claude-sonnet-4-5", "--provider", "anthropic", "--at", "2025-11-01")
    assert code == 0, out
    assert "source     genai-prices 0.2.3" in out
    assert "input <= 200,000" in out
    assert "input > 200,000" in out
    # Anthropic list prices for Sonnet 4.5: 5m write $3.75, 1h write $6; >200K output $22.50
    assert "cache write 5m         │ $3.75" in out
    assert "cache write 1h         │ $6 " in out
    assert "$22.5" in out
    assert "ALL its tokens" in out


def test_show_batch_tier_and_notes() -> None:
    code, out = run(
        "claude-sonnet-4-20250514", "--provider", "anthropic", "--service-tier", "batch", "--at", "2025-11-01"
    )
    assert code == 0, out
    assert "service tier batch" in out
    assert "│ input                  │ $1.5 " in out  # 50% of $3
    assert "note: batch: 0.5x standard (Anthropic Message Batches: 50% of standard)" in out


def test_show_override_model() -> None:
    code, out = run(
        "llama-3.1-70b-instruct",
        "--provider",
        "openai_compatible",
        "--price-overrides",
        str(TESTDATA / "valid-full.yaml"),
    )
    assert code == 0, out
    assert "source     override:vllm-llama-70b" in out
    assert "│ output                 │ $0.8 " in out


def test_unknown_model_fails_with_the_unpriced_reason() -> None:
    code, out = run("not-a-model", "--provider", "openai")
    assert code == 1
    assert "unknown_model" in out


def test_invalid_overrides_fail_listing_every_problem() -> None:
    code, out = run("gpt-4o", "--price-overrides", str(TESTDATA / "invalid-values.yaml"))
    assert code == 1
    assert "(12 problems)" in out
    assert out.count("invalid-values.yaml:") == 12  # one line per problem, each with FILE:LINE


def test_the_costline_entry_point_has_the_prices_command() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from costline_processor.cli import main; main()", "prices", "show", "gpt-4o",
         "--provider", "openai", "--at", "2025-11-01"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "│ input                  │ $2.5 " in done.stdout  # gpt-4o: $2.50/M input
