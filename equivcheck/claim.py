"""The claim record, the ``@claim`` decorator and the loader of ``cases/``.

Design rules
- A case file ``cases/<claim_id>.py`` defines exactly one claim with the
  :func:`claim` decorator on its body; the id is the file stem.
- Everything a claim says about itself is data: title, statement, sources,
  fixed examples (the seeds' worked numbers), a hypothesis parameter space, and
  the expected verdict per framework.  The body is written once against the
  backend interface (:mod:`equivcheck.backends.base`).
- A malformed case fails at load time with :class:`ClaimError`, whose message
  names the file and the field (the checks are :mod:`equivcheck.claim_validation`).
  Duplicate ids are an error.

A case file looks like::

    from hypothesis import strategies as st
    from equivcheck.claim import claim, source

    @claim(
        title="1x1 conv is a Linear layer",
        statement="A 1x1 convolution from C to C' equals a Linear(C, C') on every pixel.",
        sources=[source("000", "Why is 1x1 conv same as fully connected layer?")],
        examples=[{"n": 2, "c_in": 3, "c_out": 5, "h": 4, "w": 4}],
        space=st.fixed_dictionaries({...}),
        expected="holds",
    )
    def check(bk, p, ctx):
        ...

A known bug of one framework build gets a :func:`deviation`, not a changed
``expected``: it names the framework, the verdict, the conditions (dtype, and
entries of the adapter's ``versions()`` such as ``keras_backend``) and the
reason, so the other builds keep the general expectation and the deviation
fails the suite, as unexpected, on the day the bug is fixed.
"""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

# the validation of case files, and the names case files and callers have always imported from here
from equivcheck.claim_validation import (OPTIONAL_FIELDS, REQUIRED_FIELDS, SEEDS, VERDICTS,  # noqa: F401
                                         describe_reference, validate)

#: The catalog as installed from a wheel: ``equivcheck/cases/`` (the repository's ``cases/``, mapped
#: into the package by pyproject.toml).
PACKAGED_CASES_DIR = Path(__file__).resolve().parent / "cases"
#: The catalog in a checkout (and an editable install of it): ``cases/`` at the repository root.
CHECKOUT_CASES_DIR = Path(__file__).resolve().parent.parent / "cases"
#: Where the built-in catalog is, wherever equivcheck is installed.
DEFAULT_CASES_DIR = PACKAGED_CASES_DIR if PACKAGED_CASES_DIR.is_dir() else CHECKOUT_CASES_DIR

#: Environment variables of :func:`load_claims`: more case directories (``os.pathsep``-separated;
#: the CLI's and the pytest plugin's ``--cases`` go through the first, so worker processes see them),
#: and "leave the built-in catalog out" (``--no-builtin``).
CASES_ENV, LEGACY_CASES_ENV, NO_BUILTIN_ENV = "EQUIVCHECK_CASES", "EQUIVCHECK_EXTRA_CASES", "EQUIVCHECK_NO_BUILTIN"


class ClaimError(ValueError):
    """A case file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Source:
    """Where a claim comes from: a reference (``seed``: a seed thread ``"002"``, ``owner/repo#123``,
    ``arXiv:…``, a paper title or a URL; the field keeps its first name) and the words it says."""

    seed: str
    quote: str

    @property
    def ref(self) -> str:
        return self.seed

    @property
    def kind(self) -> str:
        return describe_reference(self.seed)[0]

    @property
    def url(self) -> str | None:
        return describe_reference(self.seed)[1]

    @property
    def words(self) -> str:
        """The reference in words, for a reader to look it up: "seed thread 002", "GitHub issue/PR
        pytorch/pytorch#1333 — https://github.com/pytorch/pytorch/issues/1333", ..."""
        return describe_reference(self.seed)[2]

    def to_dict(self) -> dict:
        kind, url, words = describe_reference(self.seed)
        return {"seed": self.seed, "kind": kind, "url": url, "words": words, "quote": self.quote}


@dataclass(frozen=True)
class Deviation:
    """A verdict expected instead of the claim's general one on some builds (a known bug)."""

    framework: str
    verdict: str
    reason: str
    dtype: str | None = None
    #: adapter ``versions()`` entries that must all match (a string, or a tuple of accepted strings)
    when: tuple = ()
    #: the same bug also fails the claim's supporting checks (``support=True``) on this build
    supporting: bool = False

    def matches(self, framework: str, dtype: str, versions: Mapping[str, str]) -> bool:
        if framework != self.framework or self.dtype not in (None, dtype):
            return False
        return all(str(versions.get(key)) in ((value,) if isinstance(value, str) else value)
                   for key, value in self.when)

    def describe(self) -> str:
        conditions = ([f"dtype={self.dtype}"] if self.dtype else []) + [
            f"{key}={value if isinstance(value, str) else '|'.join(value)}" for key, value in self.when]
        return (f"{self.verdict}{' with failing supporting checks' if self.supporting else ''} on "
                f"{self.framework}" + (f" ({', '.join(conditions)})" if conditions else ""))


def deviation(framework: str, verdict: str, *, reason: str, dtype: str | None = None, supporting: bool = False,
              **when) -> Deviation:
    """A known deviation: on ``framework`` (with ``dtype`` and every ``versions()`` entry in ``when``)
    expect ``verdict`` because of ``reason``; ``supporting=True`` when the bug also fails the claim's
    supporting checks there (otherwise a failed supporting check still fails the suite).

    >>> deviation("tensorflow", "refuted", dtype="float64", keras_backend="torch", reason="...").describe()
    'refuted on tensorflow (dtype=float64, keras_backend=torch)'
    """
    return Deviation(framework, verdict, reason, dtype, tuple(sorted(when.items())), bool(supporting))


def source(ref: str, quote: str) -> Source:
    """A :class:`Source`: where the claim was made, and what it says there.  ``ref`` is one of

    - a seed thread of the catalog, ``"000"`` … ``"004"`` (the questions this project started from),
      with the thread's own words as ``quote``;
    - a GitHub issue or pull request, ``"owner/repo#123"`` (or ``"owner/repo PR#123"``);
    - a paper, ``"arXiv:1609.03499"`` or its title (two words or more);
    - a documentation page, its full ``https://`` URL;

    and ``quote`` what that source says (its words, or what it reports).  The loader rejects any other
    ``ref`` with an error naming the case file and the field ``sources``.

    >>> source("002", "Why then are its weights actually size (7x7x8x16)?").seed
    '002'
    >>> source("arXiv:1610.02357", "depthwise separable convolutions").words
    'paper arXiv:1610.02357 — https://arxiv.org/abs/1610.02357'
    """
    return Source(ref, quote)


@dataclass
class Claim:
    """One executable claim.  See the module docstring for the case-file form."""

    id: str
    title: str
    statement: str
    sources: tuple[Source, ...]
    examples: tuple[dict, ...]
    space: Any  # a hypothesis SearchStrategy of dicts, or None for fixed examples only
    expected: Mapping[str, str]
    body: Callable
    path: Path
    #: Notes per framework ("*": every framework): how the claim is checked there, where that is particular
    #: to this claim (what an adapter always does, or a known-issue record says, lives there instead).
    #: ``equivcheck list --json`` shows them; a failure message quotes its framework's note.
    notes: Mapping[str, str] = field(default_factory=dict)
    #: Test-only claims (loaded from EQUIVCHECK_EXTRA_CASES by the meta-tests) are marked so in reports.
    test_only: bool = False
    #: Known deviations from ``expected`` on particular builds (see :func:`deviation`).
    deviations: tuple[Deviation, ...] = ()

    def expected_for(self, framework: str, dtype: str, versions: Mapping[str, str]) -> tuple[str, str, bool]:
        """(expected verdict, why it differs from the general one or ``""``, whether failed supporting
        checks are part of that known deviation) for this build."""
        for item in self.deviations:
            if item.matches(framework, dtype, versions):
                return item.verdict, f"known deviation: {item.reason}", item.supporting
        return self.expected[framework], "", False

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "statement": self.statement,
            "sources": [s.to_dict() for s in self.sources],
            "notes": dict(self.notes),
        }


_PENDING: list[dict] = []


def claim(**fields):
    """Decorator declaring the claim of the case file it is used in.

    Required: ``title``, ``statement``, ``sources``, ``examples``, ``expected``;
    optional: ``space`` (hypothesis strategy of dicts), ``notes`` (framework →
    sentence), ``test_only``, ``deviations`` (a list of :func:`deviation`).  ``expected`` is one verdict word for every
    framework, or a mapping from framework name (or ``"*"`` for the rest) to a
    verdict word.  Missing or unknown fields are reported by the loader,
    naming the file and the field.
    """

    def register(body: Callable) -> Callable:
        _PENDING.append({**fields, "body": body})
        return body

    return register


def load_file(path: Path | str) -> Claim:
    """Import one case file and return its claim (raises :class:`ClaimError`)."""
    path = Path(path)
    module_name = f"equivcheck_cases.{path.stem}"
    _PENDING.clear()
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None:
        raise ClaimError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except ClaimError:
        raise
    except Exception as exc:
        raise ClaimError(f"{path}: the case file failed to import: {type(exc).__name__}: {exc}") from exc
    found = list(_PENDING)
    _PENDING.clear()
    if len(found) != 1:
        raise ClaimError(f"{path}: field 'claim': expected exactly one @claim(...) body, found {len(found)}")
    return validate(path, found[0])


def case_dirs_from_env() -> list[Path]:
    """The directories named in ``$EQUIVCHECK_CASES`` (and the older ``$EQUIVCHECK_EXTRA_CASES``)."""
    import os

    return [Path(p) for name in (CASES_ENV, LEGACY_CASES_ENV)
            for p in os.environ.get(name, "").split(os.pathsep) if p.strip()]


def builtin_from_env() -> bool:
    """False when ``$EQUIVCHECK_NO_BUILTIN`` is set to anything but ``""``/``0``/``false``/``no``."""
    import os

    return os.environ.get(NO_BUILTIN_ENV, "").strip().lower() in ("", "0", "false", "no")


def load_claims(directory: Path | str | None = None, *, cases=None, builtin: bool | None = None) -> dict[str, Claim]:
    """Every claim, keyed by id: the built-in catalog (``directory``, default :data:`DEFAULT_CASES_DIR`)
    unless ``builtin`` is false, then each directory of ``cases``, in order, each sorted by file name.

    ``cases`` defaults to ``$EQUIVCHECK_CASES`` (``os.pathsep``-separated) and ``builtin`` to
    ``not $EQUIVCHECK_NO_BUILTIN``; files starting with ``_`` are helpers, not claims.  A claim id
    found twice is a :class:`ClaimError` naming both files.

    >>> "one_by_one_conv_is_linear" in load_claims()
    True
    """
    if builtin is None:
        builtin = builtin_from_env()
    extra = case_dirs_from_env() if cases is None else [Path(c) for c in cases]
    directories = ([Path(directory) if directory else DEFAULT_CASES_DIR] if builtin else []) + extra
    claims: dict[str, Claim] = {}
    seen: set[Path] = set()
    for folder in directories:
        if not folder.is_dir():
            if builtin and folder == directories[0]:
                raise ClaimError(f"{folder}: the built-in catalog is missing (a broken install? reinstall equivcheck)")
            raise ClaimError(f"--cases: {folder}: no such directory")
        if folder.resolve() in seen:
            continue  # named twice (say, by --cases and $EQUIVCHECK_CASES): its claims are not duplicates
        seen.add(folder.resolve())
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            loaded = load_file(path)
            if loaded.id in claims:
                raise ClaimError(f"{path}: field 'id': duplicate claim id {loaded.id!r} (also in {claims[loaded.id].path})")
            claims[loaded.id] = loaded
    return claims


def select(claims: Mapping[str, Claim], ids, origin: str = "--claims") -> list[Claim]:
    """The claims named in ``ids`` (all when empty), with a one-line error for unknown ids."""
    ids = [i.strip() for i in ids or () if i.strip()]
    if not ids:
        return list(claims.values())
    unknown = [i for i in ids if i not in claims]
    if unknown:
        raise ClaimError(f"{origin}: unknown claim id {', '.join(map(repr, unknown))}; run 'equivcheck list' to see the ids")
    return [claims[i] for i in ids]
