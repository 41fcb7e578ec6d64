"""What a case file's ``@claim(...)`` must say, checked at load time: the fields, the sources'
references, the examples, the expected verdicts and the deviations.  Every failure is a
:class:`equivcheck.claim.ClaimError` naming the file and the field.

:mod:`equivcheck.claim` (the record types, the decorator and the loader) imports this module and calls
:func:`validate` on each claim it loads, so the record types and ClaimError are imported from it only
when a claim is validated.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from equivcheck.backends import FRAMEWORKS

if TYPE_CHECKING:
    from equivcheck.claim import Claim, ClaimError

VERDICTS = ("holds", "refuted", "raises", "n/a")
SEEDS = ("000", "001", "002", "003", "004")


#: The forms of a reference (see :func:`describe_reference`).
GITHUB_REF = re.compile(r"(?P<repo>[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100})\s*(?P<pr>PR\s*)?#(?P<number>[1-9][0-9]*)")
ARXIV_REF = re.compile(r"arXiv:(?P<id>[0-9]{4}\.[0-9]{4,5}(?:v[0-9]+)?|[a-z-]+(?:\.[A-Z]{2})?/[0-9]{7}(?:v[0-9]+)?)",
                       re.IGNORECASE)
URL_REF = re.compile(r"https?://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::[0-9]+)?(?:[/?#]\S*)?")


def describe_reference(ref: str) -> tuple[str, str | None, str]:
    """(kind, URL or None, the reference in words) of a source's ``ref``; :class:`ValueError` with a
    one-line reason when it is none of the forms a reader can look up.

    >>> describe_reference("002")
    ('seed', None, 'seed thread 002')
    >>> describe_reference("pytorch/pytorch#1333")[2]
    'GitHub issue/PR pytorch/pytorch#1333 — https://github.com/pytorch/pytorch/issues/1333'
    >>> describe_reference("microsoft/onnxruntime PR#5368")[1]
    'https://github.com/microsoft/onnxruntime/pull/5368'
    >>> describe_reference("arXiv:1609.03499")[2]
    'paper arXiv:1609.03499 — https://arxiv.org/abs/1609.03499'
    >>> describe_reference("Deconvolution and Checkerboard Artifacts")
    ('paper', None, 'paper "Deconvolution and Checkerboard Artifacts"')
    """
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(f"the reference must be a non-empty string, got {ref!r}")
    ref = ref.strip()
    if ref.isdigit():
        if ref not in SEEDS:
            raise ValueError(f"unknown seed {ref!r}; the seeds are {', '.join(SEEDS)}")
        return "seed", None, f"seed thread {ref}"
    if match := GITHUB_REF.fullmatch(ref):
        repo, number = match["repo"], match["number"]
        if match["pr"]:
            url = f"https://github.com/{repo}/pull/{number}"
            return "pull request", url, f"GitHub PR {repo}#{number} — {url}"
        url = f"https://github.com/{repo}/issues/{number}"  # GitHub forwards a PR's number to its page
        return "issue", url, f"GitHub issue/PR {repo}#{number} — {url}"
    if "#" in ref:
        raise ValueError(f"{ref!r} is not an issue or pull request reference: write owner/repo#number or "
                         f"owner/repo PR#number (e.g. pytorch/pytorch#1333)")
    if match := ARXIV_REF.fullmatch(ref):
        url = f"https://arxiv.org/abs/{match['id']}"
        return "paper", url, f"paper arXiv:{match['id']} — {url}"
    if ref.lower().startswith("arxiv"):
        raise ValueError(f"{ref!r} is not an arXiv id: write arXiv:YYMM.NNNNN (e.g. arXiv:1609.03499)")
    if URL_REF.fullmatch(ref):
        return "documentation", ref, f"documentation {ref}"
    if re.match(r"(https?:|www\.)", ref, re.IGNORECASE):
        raise ValueError(f"{ref!r} is not a URL: write it in full, https://host/path")
    if len(ref.split()) >= 2 and any(c.isalpha() for c in ref):
        return "paper", None, f'paper "{ref}"'
    raise ValueError(f"{ref!r} is not a reference a reader can look up: give a seed ({', '.join(SEEDS)}), "
                     f"owner/repo#number, arXiv:id, a paper's title or a documentation URL")


#: Fields of @claim(...): required ones first.
REQUIRED_FIELDS = ("title", "statement", "sources", "examples", "expected")
OPTIONAL_FIELDS = {"space": None, "notes": None, "test_only": False, "deviations": ()}


def _fail(path: Path, field_name: str, message: str) -> ClaimError:
    from equivcheck.claim import ClaimError

    return ClaimError(f"{path}: field '{field_name}': {message}")


def _expand_expected(path: Path, expected) -> dict[str, str]:
    if isinstance(expected, str):
        expected = {"*": expected}
    if not isinstance(expected, Mapping):
        raise _fail(path, "expected", f"must be a verdict word or a mapping of framework → verdict, got {type(expected).__name__}")
    unknown = [k for k in expected if k != "*" and k not in FRAMEWORKS]
    if unknown:
        raise _fail(path, "expected", f"unknown framework {unknown[0]!r}; known: {', '.join(FRAMEWORKS)} (or '*')")
    table = {}
    for framework in FRAMEWORKS:
        verdict = expected.get(framework, expected.get("*"))
        if verdict is None:
            raise _fail(path, "expected", f"no verdict for {framework!r} (give it, or a '*' default)")
        if verdict not in VERDICTS:
            raise _fail(path, "expected", f"unknown verdict {verdict!r} for {framework!r}; use one of {', '.join(VERDICTS)}")
        table[framework] = verdict
    return table


def validate(path: Path, spec: dict) -> Claim:
    """The :class:`~equivcheck.claim.Claim` of a case file (``path``) from its ``@claim(...)`` fields and body."""
    from equivcheck.claim import Claim, Deviation, Source

    unknown = sorted(set(spec) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS) - {"body"})
    if unknown:
        raise _fail(path, unknown[0], f"unknown field; @claim takes {', '.join(REQUIRED_FIELDS + tuple(OPTIONAL_FIELDS))}")
    for name in REQUIRED_FIELDS:
        if name not in spec:
            raise _fail(path, name, "missing (required by @claim)")
    spec = {**OPTIONAL_FIELDS, **spec}
    if spec["notes"] is None:
        spec["notes"] = {}
    for name in ("title", "statement"):
        if not isinstance(spec[name], str) or not spec[name].strip():
            raise _fail(path, name, "must be a non-empty string")
    sources = spec["sources"]
    if not isinstance(sources, (list, tuple)) or not sources:
        raise _fail(path, "sources", "must be a non-empty list of source(ref, quote)")
    for item in sources:
        if not isinstance(item, Source):
            raise _fail(path, "sources", f"entries must be source(ref, quote), got {item!r}")
        try:
            words = describe_reference(item.seed)[2]
        except ValueError as exc:
            raise _fail(path, "sources", str(exc)) from None
        if not isinstance(item.quote, str) or not item.quote.strip():
            raise _fail(path, "sources", f"{words}: the quote (what the source says) is empty")
    examples = spec["examples"]
    if not isinstance(examples, (list, tuple)) or not examples:
        raise _fail(path, "examples", "must be a non-empty list of parameter dicts (the seeds' worked numbers)")
    for index, example in enumerate(examples):
        if not isinstance(example, dict):
            raise _fail(path, "examples", f"entry {index} must be a dict, got {type(example).__name__}")
    space = spec["space"]
    if space is not None and not hasattr(space, "example"):
        raise _fail(path, "space", f"must be a hypothesis strategy (of dicts) or None, got {type(space).__name__}")
    deviations = spec["deviations"]
    if not isinstance(deviations, (list, tuple)) or not all(isinstance(d, Deviation) for d in deviations):
        raise _fail(path, "deviations", "must be a list of deviation(framework, verdict, reason=..., ...)")
    for item in deviations:
        if item.framework not in FRAMEWORKS:
            raise _fail(path, "deviations", f"unknown framework {item.framework!r}; known: {', '.join(FRAMEWORKS)}")
        if item.verdict not in VERDICTS:
            raise _fail(path, "deviations", f"unknown verdict {item.verdict!r}; use one of {', '.join(VERDICTS)}")
        if item.dtype not in (None, "float32", "float64"):
            raise _fail(path, "deviations", f"unknown dtype {item.dtype!r}; use float32 or float64")
        if not item.reason.strip():
            raise _fail(path, "deviations", f"{item.describe()}: the reason is empty")
    if not callable(spec["body"]):
        raise _fail(path, "body", "the decorated object must be a function body(bk, p, ctx)")
    return Claim(
        id=path.stem,
        title=spec["title"].strip(),
        statement=" ".join(spec["statement"].split()),
        sources=tuple(sources),
        examples=tuple(examples),
        space=space,
        expected=_expand_expected(path, spec["expected"]),
        body=spec["body"],
        path=path,
        notes=dict(spec["notes"]),
        test_only=spec["test_only"],
        deviations=tuple(deviations),
    )
