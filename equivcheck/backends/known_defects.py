"""Moved: known framework behaviour lives in :mod:`equivcheck.known_issues`, the one registry.

This name stays importable while the adapters switch over; nothing is defined here.
"""
from equivcheck.known_issues import *  # noqa: F401,F403
from equivcheck.known_issues import KnownFrameworkDefect, KnownIssueSkip  # noqa: F401
