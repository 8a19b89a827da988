"""What a reader sees in an HTML report: the text of each element with an id, and the cells of its tables.

Parses the report file or the DOM Chromium dumps (`--dump-dom`) with the standard library's HTML parser.
"""

from __future__ import annotations

from html.parser import HTMLParser

VOID_TAGS = frozenset({"meta", "br", "hr", "img", "input", "link", "wbr", "area", "base", "col", "source"})


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, str | None]] = []  # (tag, id) from the root to the current element
        self.text: dict[str, list[str]] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.title = ""
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ident = dict(attrs).get("id")
        if ident is not None:
            self.text.setdefault(ident, [])
        if tag == "table" and ident is not None:
            self._table = ident
            self.tables[ident] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        if tag not in VOID_TAGS:
            self.open.append((tag, ident))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ident = dict(attrs).get("id")
        if ident is not None:
            self.text.setdefault(ident, [])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        if tag == "table":
            self._table = None
        while self.open:
            opened, _ = self.open.pop()
            if opened == tag:
                break

    def handle_data(self, data: str) -> None:
        if any(tag == "title" for tag, _ in self.open) and not any(tag == "svg" for tag, _ in self.open):
            self.title += data
        for _, ident in self.open:
            if ident is not None:
                self.text[ident].append(data)
        if self._cell is not None:
            self._cell.append(data)


class Page:
    def __init__(self, html: str) -> None:
        reader = _Reader()
        reader.feed(html)
        reader.close()
        self.title = " ".join(reader.title.split())
        self._text = {ident: " ".join(" ".join(parts).split()) for ident, parts in reader.text.items()}
        self._tables = reader.tables

    def ids(self) -> set[str]:
        return set(self._text)

    def text(self, ident: str) -> str:
        """The element's text, whitespace collapsed; KeyError when the page has no such element."""
        return self._text[ident]

    def table(self, ident: str) -> list[list[str]]:
        """The rows of cells of the table with this id, header row first."""
        return self._tables[ident]
