"""Results files: JSON Lines, one object per result, flushed as each finishes.

A crash mid-run leaves every line written before it intact; a torn last line
(the process died while writing it) is ignored on reading, and ``--resume``
skips the claim × framework × dtype triples the file already holds.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "r.jsonl")
>>> ResultsFile.open(path).finished()
{}
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

from equivcheck.runner import Result
from equivcheck.worker import CRASH_TYPE, crash_excerpt

#: Fields every results line carries (the documented schema's required part).
REQUIRED_FIELDS = ("claim", "framework", "framework_version", "verdict", "expected", "max_abs_err", "bound",
                   "counterexample", "seed", "dtype", "examples")


class ResultsError(OSError):
    """The results file cannot be written or read; the message names the path."""


class ResultsFile:
    def __init__(self, path: Path, handle):
        self.path = path
        self.handle = handle

    @classmethod
    def open(cls, path, resume: bool = False) -> "ResultsFile":
        """Open ``path`` for appending (truncating it unless ``resume``)."""
        path = Path(path)
        try:
            if path.parent and not path.parent.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a" if resume else "w", encoding="utf-8")
        except OSError as exc:
            raise ResultsError(f"--results: cannot write {path}: {exc.strerror or exc}") from None
        return cls(path, handle)

    def write(self, result: Result) -> None:
        self.handle.write(result.to_json() + "\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def finished(self) -> dict:
        """(claim, framework, dtype) → Result for every complete line already in the file,
        except crash records (their claims did not run; --resume runs them again)."""
        return {(r.claim, r.framework, r.dtype): r for r in read(self.path) if not is_crash(r)}

    def close(self) -> None:
        self.handle.close()


def records(path) -> "Iterator[dict]":
    """The JSON objects of one JSON Lines file, skipping blank and torn lines (a crashed run's last line).

    Raises OSError when the file cannot be opened."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


def read(*paths) -> list[Result]:
    """Every complete result line in ``paths`` (torn or blank lines, and other record kinds, are skipped)."""
    results = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise ResultsError(f"results file {path} does not exist")
        for record in records(path):
            known = {k: record[k] for k in Result.__dataclass_fields__ if k in record}
            try:
                results.append(Result(**known))
            except TypeError:
                continue
    return results


def is_crash(result: Result) -> bool:
    """A record written because the worker process died while running this claim."""
    return bool(result.error) and result.error.get("type") == CRASH_TYPE


def crash_result(crash: dict, claim, args) -> Result:
    """The record of a claim whose worker process died (it did not run to a verdict)."""
    return Result(claim=crash["claim"], framework=crash["framework"], framework_version="?", versions={},
                  dtype=crash["dtype"], device=args.device, verdict="error", expected=claim.expected[crash["framework"]],
                  max_abs_err=None, bound=None, ratio=None, seed=args.seed, examples=args.examples, examples_run=0,
                  counterexample=None if crash.get("params") is None else {"params": crash["params"]},
                  error={"type": CRASH_TYPE, "message": f"the worker process died ({crash['how']}) while running "
                                                        f"this claim; stderr: {crash_excerpt(crash['stderr'], 500, tail=False)}"})
