"""The claims × frameworks verdict table printed by ``equivcheck run``."""
from __future__ import annotations

#: Short cell text per verdict.
CELL = {"holds": "holds", "refuted": "refuted", "raises": "raises", "n/a": "n/a", "error": "ERROR"}


def cell(results) -> str:
    """One cell from the results of one claim × framework (one per dtype)."""
    if not results:
        return "-"
    verdicts = sorted({r.verdict for r in results})
    text = "/".join(CELL.get(v, v) for v in verdicts)
    if any(not r.as_expected for r in results):
        text += "!"
    return text


def verdict_table(claims, frameworks, results, unavailable=None) -> str:
    """A plain-text table; ``!`` marks a verdict that differs from the case file.

    >>> verdict_table([], ["numpy"], [])
    'claim  numpy\\n-----  -----'
    """
    unavailable = unavailable or {}
    by_key = {}
    for result in results:
        by_key.setdefault((result.claim, result.framework), []).append(result)
    header = ["claim", *frameworks]
    rows = []
    for claim in claims:
        rows.append([claim.id, *("skip" if fw in unavailable else cell(by_key.get((claim.id, fw), []))
                                 for fw in frameworks)])
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]
    for framework, reason in unavailable.items():
        lines.append(f"skip: {framework}: {reason}")
    return "\n".join(lines)
