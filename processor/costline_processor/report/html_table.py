"""Plain-text HTML tables for the report pages (every cell escaped)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def grid(header: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str]], *, table_id: str) -> str:
    """A table whose cells are plain text; `header` pairs each column name with whether it is numeric."""
    head = "".join(f"<th{' class=num' if num else ''}>{escape(name)}</th>" for name, num in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if num else ''}>{escape(cell)}</td>"
            for cell, (_, num) in zip(row, header, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table id={table_id}><tr>{head}</tr>{body}</table>"
