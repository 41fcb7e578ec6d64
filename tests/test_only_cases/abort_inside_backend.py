"""Test-only: kills the process from inside one framework's column, like a crash in native code.

Used by tests/test_crash_resume.py through EQUIVCHECK_EXTRA_CASES; it aborts only
in the column named by EQUIVCHECK_TEST_ABORT (e.g. ``numpy``), so a rerun without
it completes.
"""
import os

from equivcheck.claim import claim, source


@claim(
    title="Test-only: a framework that aborts the process",
    statement="Running this claim on the framework named by EQUIVCHECK_TEST_ABORT aborts the process.",
    sources=[source("000", "just wanted to be clear if I'm missing something")],
    examples=[{"n": 1}],
    expected="holds",
    test_only=True,
)
def check(bk, p, ctx):
    if bk.framework_name == os.environ.get("EQUIVCHECK_TEST_ABORT"):
        os.abort()
    ctx.equal("shape survives", tuple(bk.to_numpy(bk.asarray(ctx.array("x", (p.n, 2)))).shape), (p.n, 2))
