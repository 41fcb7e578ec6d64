"""What every ``equivcheck`` sub-command shares: the exit codes, the usage error and option lists."""
from __future__ import annotations

from equivcheck.options import csv as _csv

EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE = 0, 1, 2


class UsageProblem(Exception):
    """A one-line usage/configuration error (exit code 2)."""


def names(text: str, origin: str, what: str, hint: str) -> list[str]:
    """The comma-separated names of an option, or a usage error when it names none (``''``, ``' , '``)."""
    found = _csv(text)
    if not found:
        raise UsageProblem(f"{origin}: no {what} named (got {text!r}); {hint}")
    return found
