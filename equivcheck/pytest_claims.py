"""Every claim × every framework as a pytest test: the verdict must be the one its case file expects.

``pytest --equivcheck`` adds this module to a run (see :mod:`equivcheck.pytest_plugin`); a project
with ``equivcheck = true`` in its pytest configuration can instead run the claims from a module of
its own::

    # tests/test_claims.py
    from equivcheck.pytest_claims import *  # noqa: F401,F403 - test_claim and its parametrization

Ids look like ``test_claim[pixel_shuffle_folding-tensorflow]``.  Each test runs the claim in every
``--dtypes`` (float64 and float32 by default).  An unexpected verdict fails in either direction (an
unexpected refutation, or an unexpected pass of something expected to be refuted or to raise), like
jax2tf's limitation registry, with the message ``equivcheck run`` prints
(:func:`equivcheck.report.messages.failure_message`).
"""
from __future__ import annotations

import pytest

__all__ = ["pytest_generate_tests", "test_claim"]


def pytest_generate_tests(metafunc):
    if "claim_id" not in metafunc.fixturenames:
        return
    from equivcheck import backends

    options = metafunc.config._equivcheck
    if options is None:
        raise pytest.UsageError(f"{metafunc.module.__file__} runs equivcheck claims, but equivcheck is off in this "
                                f"run: pass --equivcheck, or set equivcheck = true in the pytest configuration")
    cases = [pytest.param(c.id, fw, id=f"{c.id}-{fw}", marks=[pytest.mark.claim(c.id), pytest.mark.framework(fw)])
             for c in options.selected() for fw in backends.FRAMEWORKS]
    metafunc.parametrize(("claim_id", "framework"), cases)


def test_claim(claim_id, framework, equivcheck_claims, equivcheck_options):
    from equivcheck import backends
    from equivcheck.report.messages import failure_message
    from equivcheck.runner import run_claim

    options = equivcheck_options
    if framework not in options.frameworks:
        pytest.skip(f"{framework} not selected (--frameworks / EQUIVCHECK_FRAMEWORKS = {','.join(options.frameworks)})")
    reason = backends.availability(framework)
    if reason:
        pytest.skip(reason)
    claim = equivcheck_claims[claim_id]
    problems, lacking = [], [why for dtype in options.dtypes if (why := backends.dtype_unavailable(framework, dtype))]
    for dtype in options.dtypes:
        if backends.dtype_unavailable(framework, dtype):
            continue
        result = run_claim(claim, framework, dtype=dtype, examples=options.examples, seed=options.seed,
                           device=options.device, allow_tf32=options.allow_tf32)
        if not result.as_expected:
            problems.append(failure_message(claim, result))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
    if len(lacking) == len(options.dtypes):
        pytest.skip("; ".join(lacking))
