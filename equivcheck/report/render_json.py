"""JSON rendering: the report dict itself, in the schema of ``docs/report-schema.json``."""
from __future__ import annotations

import json


def render(report: dict) -> str:
    """Deterministic JSON text (sorted keys, two-space indent, trailing newline).

    >>> render({"schema": "equivcheck-report/1"})
    '{\\n  "schema": "equivcheck-report/1"\\n}\\n'
    """
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
