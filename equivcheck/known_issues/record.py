"""The record type of known framework behaviour (:class:`KnownIssue`) and the two exceptions its
guards and matchers raise (:class:`KnownIssueSkip`, :class:`UnrecognisedGap`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from equivcheck.backends.base import NotApplicable
from equivcheck.known_issues.versions import affected


class KnownIssueSkip(NotApplicable):
    """The framework is known to crash the process, to compute wrong values, or to have no kernel for
    this example, so it is not run (verdict ``n/a`` for the example; the claim's verdict comes from its
    other examples)."""


class UnrecognisedGap(RuntimeError):
    """The framework raised the words of a known missing kernel outside the bounds of its record:
    an error of the run (the record may need widening, or this is a new failure), never a skip."""


@dataclass(frozen=True)
class KnownIssue:
    """One item of known framework behaviour (see :mod:`equivcheck.known_issues`)."""

    id: str
    kind: str  # "process abort" | "wrong values" | "missing kernel" | "build deviation"
    framework: str  # the equivcheck column it affects
    package: str  # the package whose version bounds it
    first_seen: str
    last_seen: str
    reason: str
    pinned_by: str
    #: versions older than ``first_seen`` are assumed affected too (the code is old; a fix shows)
    older_too: bool = True
    device: str = "cpu"
    #: missing kernels: the framework's own words (any of them)
    words: tuple = ()
    #: missing kernels: predicate(op, rank, dtype, stride, dilation, groups) -> bool
    applies: Callable | None = field(default=None, compare=False)

    def affects(self, version: str) -> bool:
        """Whether ``version`` of :attr:`package` is inside the range this item was seen in."""
        return affected(version, {"first_seen": self.first_seen, "last_seen": self.last_seen},
                        older_too=self.older_too)

    def describe(self) -> str:
        since = f"≤ {self.last_seen}" if self.older_too else f"{self.first_seen}–{self.last_seen}"
        return f"{self.id} ({self.kind}, {self.package} {since}, {self.device}): {self.reason}"
