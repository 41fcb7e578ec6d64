"""What the Markdown and the HTML rendering lay out alike: the order of their parts, the verdict
matrix's cells, the convention sections by topic, the cells of a pivoted table, and the ratio shown
in a verdict cell.

>>> ratio_text(0.01234)
'0.012'
"""
from __future__ import annotations

from typing import NamedTuple

from equivcheck.report.model import item_key

#: Topics shown as one table with an item per column; the rest are one row per item.
PIVOTED = ("data_layout", "kernel_layout", "same_padding")
#: The sections of values the claims recorded: the report's key, and the section's title.
RECORDED = (("facts", "Facts recorded by claims"), ("errors", "Framework errors recorded by claims"))


def ratio_text(ratio) -> str:
    return "" if ratio is None else f"{ratio:.2g}"


def lay_out(report: dict, parts, recorded) -> list[str]:
    """The lines of a rendering: each of ``parts`` (``part(report, out)``) in order, then one
    ``recorded(report, key, title, out)`` section per entry of :data:`RECORDED`."""
    out: list[str] = []
    for part in parts:
        part(report, out)
    for key, title in RECORDED:
        recorded(report, key, title, out)
    return out


def verdict_matrix(report: dict) -> tuple[list[dict], list[tuple[str, list[tuple]]]]:
    """(the report's columns that hold a verdict; per claim, in id order, and per such column:
    (the column, the claim × framework row or None, the row's cell in that column or None))."""
    columns = [c for c in report["columns"] if any(c["id"] in r["cells"] for r in report["verdicts"])]
    by_key = {(r["claim"], r["framework"]): r for r in report["verdicts"]}
    matrix = []
    for claim in sorted({r["claim"] for r in report["verdicts"]}):
        entries = []
        for col in columns:
            row = by_key.get((claim, col["framework"]))
            entries.append((col, row, (row or {}).get("cells", {}).get(col["id"])))
        matrix.append((claim, entries))
    return columns, matrix


def topic_sections(report: dict):
    """(topic, its ``{"title", "how"}``, its convention rows) of every topic that has rows, in the
    report's topic order."""
    by_topic = {}
    for row in report["conventions"]:
        by_topic.setdefault(row["topic"], []).append(row)
    for topic, info in report["topics"].items():
        rows = by_topic.get(topic)
        if rows:
            yield topic, info, rows


class PivotGroup(NamedTuple):
    """The rows of one framework's API family in a pivoted table."""

    framework: str
    family: str
    #: the report's columns (versions) that hold a value of the group, in the report's column order
    columns: list
    #: the items whose values differ between versions
    differing: list
    #: column → per item, ``(value, whether the item's row differs)``, or None where it has no value
    cells: dict


def pivot(report: dict, rows: list[dict]) -> tuple[list[str], list[PivotGroup]]:
    """(the items, one table column each, in :func:`~equivcheck.report.model.item_key` order; the
    groups, one per (framework, family), in the order their first rows come) of a pivoted topic."""
    items = sorted({row["item"] for row in rows}, key=item_key)
    groups = {}
    for row in rows:
        groups.setdefault((row["framework"], row["family"]), []).append(row)
    found = []
    for (framework, family), group in groups.items():
        by_item = {r["item"]: r for r in group}
        columns = [c["id"] for c in report["columns"] if any(c["id"] in r["values"] for r in group)]
        cells = {}
        for col in columns:
            cells[col] = []
            for item in items:
                row = by_item.get(item)
                value = None if row is None else row["values"].get(col)
                cells[col].append(None if value is None else (value, row["differs"]))
        found.append(PivotGroup(framework, family, columns, [r["item"] for r in group if r["differs"]], cells))
    return items, found
