"""Test-only: kills the process from inside the torch column, like a crash in native code.

Used by tests/test_crash_resume.py through EQUIVCHECK_EXTRA_CASES; it aborts only
while EQUIVCHECK_TEST_ABORT=1, so a rerun without it completes.
"""
import os

from equivcheck.claim import claim, source


@claim(
    title="Test-only: a framework that aborts the process",
    statement="Running this claim on torch aborts the process while EQUIVCHECK_TEST_ABORT=1.",
    sources=[source("000", "just wanted to be clear if I'm missing something")],
    examples=[{"n": 1}],
    expected="holds",
    test_only=True,
)
def check(bk, p, ctx):
    if bk.framework_name == "torch" and os.environ.get("EQUIVCHECK_TEST_ABORT") == "1":
        os.abort()
    ctx.equal("shape survives", tuple(bk.to_numpy(bk.asarray(ctx.array("x", (p.n, 2)))).shape), (p.n, 2))
