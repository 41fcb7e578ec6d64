"""The report's inputs on disk: results files (names, glob patterns, directories) read into an
environment record, probe rows and result records, and the probes recorded into a results file."""
from __future__ import annotations

import glob
import json
import os
from pathlib import Path

from equivcheck.report.probes import Row


class ReportInputError(ValueError):
    """A results file or pattern cannot be used (usage error, exit code 2)."""


def expand_paths(patterns) -> list[Path]:
    """Paths from names or glob patterns (tox passes patterns unexpanded); sorted, de-duplicated."""
    paths = []
    for pattern in patterns:
        matches = sorted(glob.glob(str(pattern))) if any(c in str(pattern) for c in "*?[") else [str(pattern)]
        if not matches:
            raise ReportInputError(f"--results: no file matches {pattern}")
        for match in matches:
            path = Path(match)
            if path.is_dir():
                path_list = sorted(path.glob("*.jsonl"))
                if not path_list:
                    raise ReportInputError(f"--results: directory {path} holds no *.jsonl file")
                paths += path_list
            elif not path.exists():
                raise ReportInputError(f"--results: {path} does not exist")
            else:
                paths.append(path)
    seen, unique = set(), []
    for path in paths:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    return unique


def read_file(path: Path) -> tuple[dict | None, list[Row], list[dict]]:
    """(environment record, probe rows, result records) of one JSON Lines file; torn lines are skipped."""
    from equivcheck.results import records

    environment, rows, results = None, [], []
    try:
        for record in records(path):
            kind = record.get("kind")
            if kind == "environment":
                environment = record
            elif kind == "probe":
                rows.append(Row.from_dict(record))
            elif "claim" in record and "framework" in record and "verdict" in record:
                results.append(record)
    except OSError as exc:
        raise ReportInputError(f"--results: cannot read {path}: {exc.strerror}") from None
    return environment, rows, results


def record_probes(path, environment: dict, rows: list[Row]) -> None:
    """Append (replacing any earlier ones) this environment's record and probe rows to a results file."""
    path = Path(path)
    kept = []
    if path.exists():
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and record.get("kind") in ("environment", "probe"):
                    continue
                kept.append(line.rstrip("\n"))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        for line in kept:
            handle.write(line + "\n")
        handle.write(json.dumps(environment, sort_keys=True) + "\n")
        for row in rows:
            handle.write(json.dumps(row.to_dict(), sort_keys=True, default=str) + "\n")
    os.replace(temporary, path)
