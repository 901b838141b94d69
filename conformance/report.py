"""Rows, tables and the summary of the conformance report, printed as text or saved as JSON."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "EXACT", "CLOSE", "DIFFERENT", "REFUSED", "ORACLE_ERROR", "NOT_REPORTED", "NOT_COVERED", "OTHER_STATUSES",
    "SUMMARY_COLUMNS", "Row", "Table", "one_line", "print_table", "print_summary", "print_digest", "save_json",
]  # fmt: skip

EXACT = "exact"
CLOSE = "within tolerance"
DIFFERENT = "different"
REFUSED = "refused"
ORACLE_ERROR = "oracle error"
NOT_REPORTED = "not reported"
NOT_COVERED = "not covered"
OTHER_STATUSES = (ORACLE_ERROR, NOT_REPORTED, NOT_COVERED)
"""Rows that are neither a comparison nor a refusal: the oracle failed, augbench reports no
value to compare, or the suite has no case for a kernel."""
SUMMARY_COLUMNS = (EXACT, CLOSE, DIFFERENT, REFUSED, "other")

_MAX_CELL = 56
_MAX_NOTE = 150


@dataclass(frozen=True)
class Row:
    """One comparison: its text cells (in the table's column order), status, note and figures.

    ``figures`` holds the raw numbers behind the cells for ``--json``.
    """

    cells: tuple[str, ...]
    status: str
    note: str = ""
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class Table:
    """A titled table of rows; each table is one line of the summary.

    ``key_cells``: how many leading cells name a row's subject (the digest groups rows by them);
    ``summarised``: whether the table is a comparison counted in the summary (a reference table,
    such as the op-name mapping, is not).
    """

    title: str
    columns: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)
    legend: str = ""
    key_cells: int = 1
    summarised: bool = True

    def counts(self) -> dict[str, int]:
        """Rows per summary column (the statuses of ``OTHER_STATUSES`` count as "other")."""
        seen = Counter("other" if row.status in OTHER_STATUSES else row.status for row in self.rows)
        return {column: seen.get(column, 0) for column in SUMMARY_COLUMNS}


def one_line(error: BaseException) -> str:
    """``TypeName: first line of the message`` of an exception."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0] if message else ''}".rstrip(": ")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def print_table(table: Table) -> None:
    """The table with aligned columns; long cells are shortened (``--json`` keeps them whole)."""
    header = (*table.columns, "status", "note")
    lines = [(*(_clip(cell, _MAX_CELL) for cell in row.cells), row.status, _clip(row.note, _MAX_NOTE)) for row in table.rows]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header) - 1)]
    print(f"\n== {table.title} ({len(table.rows)} rows) ==")
    if table.legend:
        print(table.legend)
    for line in [header, *lines]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)) + "  " + line[-1])


def print_summary(tables: Sequence[Table]) -> None:
    """Counts of rows per status, one line per summarised table."""
    tables = [table for table in tables if table.summarised]
    width = max(len(table.title) for table in tables)
    print("\n== summary: rows per status ==")
    print(f"{'table':<{width}}  " + "  ".join(f"{column:>16}" for column in SUMMARY_COLUMNS))
    for table in tables:
        counts = table.counts()
        print(f"{table.title:<{width}}  " + "  ".join(f"{counts[column]:>16}" for column in SUMMARY_COLUMNS))
    print(f"('other': {', '.join(OTHER_STATUSES)})")


def print_digest(tables: Sequence[Table]) -> None:
    """Every row that is different or refused, by table and status; rows with the same subject
    (the table's first ``key_cells`` cells) and note share one line, followed by their other cells."""
    print("\n== rows that differ or are refused ==")
    for table in tables:
        for status in (DIFFERENT, REFUSED):
            groups: dict[tuple[tuple[str, ...], str], list[Row]] = {}
            for row in table.rows:
                if row.status == status:
                    groups.setdefault((row.cells[: table.key_cells], row.note), []).append(row)
            if not groups:
                continue
            print(f"-- {table.title}: {status} ({sum(len(rows) for rows in groups.values())} rows)")
            for (key, note), rows in groups.items():
                print("   " + " | ".join(cell for cell in key if cell) + (f" :: {note}" if note else ""))
                details = [_detail(table.columns[table.key_cells :], row.cells[table.key_cells :]) for row in rows]
                if any(details):
                    print("      " + "; ".join(details))


def _detail(columns: Sequence[str], cells: Sequence[str]) -> str:
    """The cells as ``column=value``, empty cells left out."""
    return " ".join(f"{column}={cell}" for column, cell in zip(columns, cells) if cell)


def save_json(path: Path, tables: Sequence[Table], environment: dict[str, str]) -> None:
    """Every row with its figures, and the summary, as JSON."""
    data = {
        "environment": environment,
        "summary": {table.title: table.counts() for table in tables if table.summarised},
        "tables": [asdict(table) for table in tables],
    }
    path.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
