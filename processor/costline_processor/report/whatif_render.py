"""The what-if rows in the terminal, CSV, JSON and HTML, each with the note that quality is the user's
call. The terminal leaves out the scope and the repriced spend (the provider in parentheses and the saving
say them)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from html import escape
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from costline.attributes import WORKFLOW_ID
from costline_processor.report.html_table import grid
from costline_processor.report.money import exact, usd
from costline_processor.report.render import spreadsheet_text
from costline_processor.report.whatif import QUALITY_NOTE, WhatIf

TITLE: Final = "What a cheaper model (or a shorter prompt) would save"
HEADINGS: Final = ("now", "instead", "scope", "requests", "spend", "spend instead", "saving", "a month")
TEXT_HEADINGS: Final = frozenset({"now", "instead", "scope"})
# The provider in parentheses says the scope, the saving the repriced spend; CSV and JSON have the requests.
TERMINAL_LEAVES_OUT: Final = frozenset({"scope", "spend instead", "requests"})
CSV_COLUMNS: Final = (
    WORKFLOW_ID,
    "current_models",
    "change",
    "scope",
    "provider",
    "model",
    "requests",
    "current_cost_usd",
    "repriced_cost_usd",
    "saving_usd",
    "saving_pct",
    "monthly_saving_usd",
)


def cells(row: WhatIf) -> list[str]:
    return [
        row.workflow_id,
        row.current_models,
        row.change,
        row.scope,
        f"{row.requests:,}",
        usd(row.current_cost),
        usd(row.repriced_cost),
        f"{usd(row.saving)} ({row.saving_share:.0%})",
        usd(row.monthly_saving),
    ]


def table(rows: Sequence[WhatIf], *, width: int = 120) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    if not rows:
        console.print(f"{TITLE}: no cheaper candidate for any workflow in this window.")
        return buffer.getvalue()
    grid_table = Table(title=TITLE)
    # Money is never cut; a long name (a Bedrock inference-profile id) is folded onto a second line instead.
    grid_table.add_column(WORKFLOW_ID, overflow="fold")
    for heading in HEADINGS:
        if heading not in TERMINAL_LEAVES_OUT:
            if heading in TEXT_HEADINGS:
                grid_table.add_column(heading, overflow="fold")
            else:
                grid_table.add_column(heading, justify="right", no_wrap=True)
    for row in rows:
        grid_table.add_row(
            *(
                cell
                for cell, name in zip(cells(row), (WORKFLOW_ID, *HEADINGS), strict=True)
                if name not in TERMINAL_LEAVES_OUT
            )
        )
    console.print(grid_table)
    console.print(QUALITY_NOTE, markup=False, highlight=False)
    return buffer.getvalue()


def to_csv(rows: Sequence[WhatIf]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                *map(spreadsheet_text, (row.workflow_id, row.current_models, row.change)),
                row.scope,
                *map(spreadsheet_text, (row.provider, row.model)),
                row.requests,
                exact(row.current_cost),
                exact(row.repriced_cost),
                exact(row.saving),
                f"{row.saving_share * 100:.2f}",
                exact(row.monthly_saving),
            ]
        )
    return out.getvalue()


def to_dict(rows: Sequence[WhatIf]) -> dict[str, Any]:
    return {
        "note": QUALITY_NOTE,
        "rows": [
            {
                WORKFLOW_ID: row.workflow_id,
                "current_models": row.current_models,
                "change": row.change,
                "scope": row.scope,
                "provider": row.provider or None,
                "model": row.model or None,
                "requests": row.requests,
                "current_cost_usd": exact(row.current_cost),
                "repriced_cost_usd": exact(row.repriced_cost),
                "saving_usd": exact(row.saving),
                "saving_share": float(row.saving_share),
                "monthly_saving_usd": exact(row.monthly_saving),
            }
            for row in rows
        ],
    }


def section(rows: Sequence[WhatIf]) -> str:
    if not rows:
        body = "<p>No cheaper candidate for any workflow in this window.</p>"
    else:
        header = [(WORKFLOW_ID, False), *((h, h not in TEXT_HEADINGS) for h in HEADINGS)]
        body = grid(header, [cells(row) for row in rows], table_id="what-if-table")
        body += f"<p id=what-if-note>{escape(QUALITY_NOTE)}</p>"
    return f"<section id=what-if><h2>{escape(TITLE)}</h2>{body}</section>"
