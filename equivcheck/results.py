"""Results files: JSON Lines, one object per result, flushed as each finishes.

Format
- The first line is the *run header*, ``{"kind": "run", ...}``: the settings
  that decide what the results are (:data:`RUN_SETTINGS`: seed, examples,
  dtypes, device, allow_tf32, params, shard, and ``equivcheck``, the commit or version
  of the code that wrote them).  Readers of results skip it (it has no
  ``claim``); a forced resume appends a second header before its own results.
- Every other line written by ``equivcheck run`` is one :class:`Result`, plus
  ``allow_tf32`` and ``compute_dtype`` (the precision its bound assumed:
  ``"tf32"`` for float32 on a GPU with TF32 allowed, ``"float64"`` for the
  NumPy oracle, else the dtype).  ``equivcheck report --record`` adds
  ``environment`` and ``probe`` records.

Crashes and resuming
- A crash mid-run leaves every line written before it intact; a torn last line
  (the process died while writing it) is ignored on reading, and truncated
  before ``--resume`` appends (the caller says what was dropped).
- ``--resume`` skips the claim × framework × dtype triples the file already
  holds, and refuses (:class:`ResumeMismatch`) a file written with other
  settings or by other equivcheck code, unless forced.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "r.jsonl")
>>> ResultsFile.open(path).finished()
{}
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Iterator

from equivcheck.runner import Result
from equivcheck.worker import CRASH_TYPE, crash_excerpt

#: Fields every results line carries (the documented schema's required part).
REQUIRED_FIELDS = ("claim", "framework", "framework_version", "verdict", "expected", "max_abs_err", "bound",
                   "counterexample", "seed", "dtype", "examples")


#: ``kind`` of the run header record.
RUN_KIND = "run"
#: Header fields a resume must match, with the option (or thing) each one comes from.
RUN_SETTINGS = (("seed", "--seed"), ("examples", "--examples"), ("dtypes", "--dtypes"), ("device", "--device"),
                ("allow_tf32", "--allow-tf32"), ("params", "--params"), ("shard", "--shard"),
                ("equivcheck", "equivcheck commit"))


class ResultsError(OSError):
    """The results file cannot be written or read; the message names the path."""


class ResumeMismatch(ResultsError):
    """``--resume`` on a file written with other settings (or without a run header); one line."""


@functools.lru_cache(maxsize=1)
def equivcheck_identity() -> str:
    """The code writing results: the git commit of the package directory when it is a tracked
    checkout (``+dirty`` when it has uncommitted changes, which the commit does not identify),
    else the installed package version.

    >>> equivcheck_identity() != ""
    True
    """
    package = Path(__file__).resolve().parent

    def git(*args) -> str:
        return subprocess.run(["git", "-C", str(package), *args], capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()

    try:
        if git("ls-files", "--", "__init__.py"):  # tracked here, not a copy inside someone's work tree
            commit = git("rev-parse", "HEAD")
            dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".")
            return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    from importlib import metadata

    try:
        return metadata.version("equivcheck")
    except metadata.PackageNotFoundError:
        return "unknown"


def run_header(*, seed: int, examples: int, dtypes, device: str = "cpu", allow_tf32: bool = False,
               params: dict | None = None, shard: str | None = None) -> dict:
    """The run header record of a results file written with these settings (``shard`` is ``"K/N"``
    for one part of a sharded run, else None)."""
    return {"kind": RUN_KIND, "equivcheck": equivcheck_identity(), "seed": seed, "examples": examples,
            "dtypes": list(dtypes), "device": device, "allow_tf32": bool(allow_tf32), "params": params,
            "shard": shard}


def _shown(field: str, value) -> str:
    if field == "dtypes":
        return ",".join(value) if value else "(none)"
    if field == "allow_tf32":
        return "on" if value else "off"
    if field == "params":
        return "(none)" if value is None else json.dumps(value, sort_keys=True)
    if field == "shard":
        return "(none)" if value is None else str(value)
    return str(value)


def _same(field: str, old, new) -> bool:
    if field == "dtypes":
        return sorted(old or []) == sorted(new or [])
    return old == new


def mismatches(old: dict, new: dict) -> list[tuple[str, str, str]]:
    """(option, value in the file, value of this run) for every setting a resume must match."""
    return [(option, _shown(field, old.get(field)), _shown(field, new.get(field)))
            for field, option in RUN_SETTINGS if not _same(field, old.get(field), new.get(field))]


def _torn_tail(path: Path) -> tuple[int, bytes] | None:
    """(offset, bytes) of a last line cut off mid-write: no newline after it and not one whole JSON
    object.  None when the file ends cleanly."""
    with open(path, "rb") as handle:
        data = handle.read()
    if not data or data.endswith(b"\n"):
        return None
    start = data.rfind(b"\n") + 1
    tail = data[start:]
    try:
        if isinstance(json.loads(tail), dict):
            return start, b""  # a whole record that lacks only its newline: keep it, add the newline
    except ValueError:
        pass
    return start, tail


class ResultsFile:
    def __init__(self, path: Path, handle):
        self.path = path
        self.handle = handle

    #: The torn last line a resume cut off (bytes; empty when the file ended cleanly).
    dropped: bytes = b""

    @classmethod
    def open(cls, path, resume: bool = False, header: dict | None = None, force: bool = False) -> "ResultsFile":
        """Open ``path`` for appending (truncating it unless ``resume``) and write ``header`` (the
        :func:`run_header` of this run) first.

        With ``resume``, the file's last run header must match ``header`` in every
        :data:`RUN_SETTINGS` field, else :class:`ResumeMismatch` (nothing in the file is changed);
        ``force`` resumes anyway and appends this run's header.  A torn last line is truncated
        (:attr:`dropped` holds it) before anything is appended."""
        path = Path(path)
        torn = None
        if resume and path.exists():
            try:
                previous = run_headers(path)
                has_results = any("claim" in r and "verdict" in r for r in records(path))
                torn = _torn_tail(path)
            except OSError as exc:
                raise ResultsError(f"--resume: cannot read {path}: {exc.strerror or exc}") from None
            if header is not None:
                if previous:
                    different = mismatches(previous[-1], header)
                    if different and not force:
                        was = " and ".join(f"{option} {old}" for option, old, _ in different)
                        now = " and ".join(f"{option} {new}" for option, _, new in different)
                        raise ResumeMismatch(f"--resume: {path} was written with {was}, this run has {now}; "
                                             f"pass --force-resume to mix them, or drop --resume to start over")
                    header = header if different else None  # a forced resume records its own settings
                elif has_results and not force:
                    raise ResumeMismatch(f"--resume: {path} has no run header (written by an older equivcheck), "
                                         f"so its seed, examples, dtypes and equivcheck commit cannot be checked; "
                                         f"pass --force-resume to resume it anyway")
        try:
            if path.parent and not path.parent.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
            if torn is not None:
                with open(path, "rb+") as repair:
                    if torn[1]:
                        repair.truncate(torn[0])
                    else:  # a whole last record: give it its newline
                        repair.seek(0, os.SEEK_END)
                        repair.write(b"\n")
            handle = open(path, "a" if resume else "w", encoding="utf-8")
        except OSError as exc:
            raise ResultsError(f"--results: cannot write {path}: {exc.strerror or exc}") from None
        sink = cls(path, handle)
        sink.dropped = torn[1] if torn else b""
        if header is not None:
            sink._line(json.dumps(header, sort_keys=True, default=str))
        return sink

    def write(self, result: Result, **extra) -> None:
        """Append ``result`` as one line; ``extra`` fields (e.g. ``compute_dtype``) are added unless the
        result has them already."""
        record = result.to_dict()
        for key, value in extra.items():
            record.setdefault(key, value)
        self._line(json.dumps(record, sort_keys=True, default=str))

    def _line(self, text: str) -> None:
        self.handle.write(text + "\n")
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


def run_headers(path) -> list[dict]:
    """The run header records of a results file, in order (one unless a resume was forced)."""
    return [r for r in records(path) if r.get("kind") == RUN_KIND]


def read(*paths) -> list[Result]:
    """Every complete result line in ``paths`` (torn or blank lines, run headers and other record kinds
    are skipped)."""
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
