"""Every claim × every framework: the verdict must be the one the case file expects.

Ids look like ``test_claim[pixel_shuffle_folding-tensorflow]``.  Each test runs
the claim in every --dtypes (float64 and float32 by default).  An unexpected
verdict fails in either direction (an unexpected refutation, or an unexpected
pass of something expected to be refuted or to raise), like jax2tf's
limitation registry.
"""
from __future__ import annotations

import pytest

from equivcheck import backends
from equivcheck.claim import load_claims, select
from equivcheck.report.messages import failure_message
from equivcheck.runner import run_claim


def pytest_generate_tests(metafunc):
    if "claim_id" not in metafunc.fixturenames:
        return
    options = metafunc.config._equivcheck
    claims = select(load_claims(), options.claim_ids)
    cases = [pytest.param(c.id, fw, id=f"{c.id}-{fw}", marks=[pytest.mark.claim(c.id), pytest.mark.framework(fw)])
             for c in claims for fw in backends.FRAMEWORKS]
    metafunc.parametrize(("claim_id", "framework"), cases)


@pytest.fixture(scope="session")
def claims():
    return load_claims()


def test_claim(claim_id, framework, claims, equivcheck_options):
    options = equivcheck_options
    if framework not in options.frameworks:
        pytest.skip(f"{framework} not selected (--frameworks / EQUIVCHECK_FRAMEWORKS = {','.join(options.frameworks)})")
    reason = backends.availability(framework)
    if reason:
        pytest.skip(reason)
    claim = claims[claim_id]
    problems = []
    for dtype in options.dtypes:
        result = run_claim(claim, framework, dtype=dtype, examples=options.examples, seed=options.seed,
                           device=options.device, allow_tf32=options.allow_tf32)
        if not result.as_expected:
            problems.append(failure_message(claim, result))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
