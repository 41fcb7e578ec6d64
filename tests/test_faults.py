"""Fault injection: patch a framework's own op into a plausible wrong convention; a claim must catch it.

Each meta-test takes one fault of :mod:`fault_catalog` and looks for a claim that *catches* it on the
fault's framework.  A claim catches a fault when

1. run clean first (no fault), on the fixed examples, it is as expected, and
2. run again on the same examples with the fault installed (``monkeypatch``, undone after the run),
   either a **statement is refuted**: the verdict is ``refuted`` where the clean run gave the expected
   ``holds``, decided by a failed statement check; or a **supporting check fails** (``result.broken``)
   where the clean run had none.

Anything else is not a catch: a claim that errors (its body crashed), a framework that raises, an
example that becomes ``n/a``, or a claim that was not as expected before the fault.  Those would
"catch" every fault and prove nothing.

By default a test stops at the first claim that catches its fault (that is the proof; further claims
would only repeat it, and on JAX re-trace and re-compile every program under the fault);
``--all-catchers`` runs the whole catalog and names every claim that catches it.  A fault's
``try_first`` claims (the catchers an ``--all-catchers`` run found) run first, then the rest in
catalog order: the order only saves time, a fault they miss is still looked for in every claim.  Each
clean baseline is run once per session and framework.  The catchers, with how they caught the fault
and the check that failed, are recorded as the test's ``caught_by`` property and printed in the
terminal summary (see equivcheck/pytest_plugin.py).
"""
from __future__ import annotations

import pytest
from fault_catalog import FAULTS

from equivcheck import backends
from equivcheck.claim import load_claims
from equivcheck.runner import run_claim

pytestmark = pytest.mark.meta

#: hypothesis draws per claim on top of the fixed examples: 0, the clean and the faulty run see exactly
#: the same examples (and the meta-tests stay fast)
FAULT_EXAMPLES = 0
#: The run every baseline and faulty run uses (the examples are the claims' fixed ones).
RUN = dict(dtype="float32", examples=FAULT_EXAMPLES, seed=0)

#: (claim id, framework) -> the clean Result; computed before any fault touches that claim.
_BASELINES: dict = {}


def baseline(claim, framework):
    """The claim's clean result on ``framework`` (run once per session; no fault is installed when the
    tests call this)."""
    key = (claim.id, framework)
    if key not in _BASELINES:
        _BASELINES[key] = run_claim(claim, framework, **RUN)
    return _BASELINES[key]


def baseline_problem(clean) -> str | None:
    """Why a clean result cannot serve as a baseline, or None when it can."""
    if not clean.as_expected:
        return f"not as expected without the fault ({clean.verdict}, expected {clean.expected})"
    if not getattr(clean, "statement_checks", clean.checks):
        return "checked no statement without the fault"
    return None


def judge(clean, faulty) -> tuple[str, str] | None:
    """How ``faulty`` (the run under the fault) catches the fault against its clean baseline:
    ("refuted", label) or ("failed supporting check", label); None when it does not."""
    if faulty.examples_run != clean.examples_run:
        return None  # not the same examples
    if faulty.broken is not None and clean.broken is None:
        return "failed supporting check", faulty.broken["check"]["label"]
    failure = (faulty.counterexample or {}).get("failure")
    if (clean.verdict == clean.expected == "holds" and faulty.verdict == "refuted"
            and failure is not None and not failure.get("support")):
        return "refuted", failure["label"]
    return None


def _not_a_catch(clean, faulty) -> str:
    """One phrase for a claim whose result changed under the fault without catching it."""
    if faulty.verdict in ("error", "raises"):
        message = (faulty.error or {}).get("message", "").splitlines()[:1]
        return f"{faulty.verdict}: {message[0][:100] if message else '?'}"
    return f"{clean.verdict} → {faulty.verdict}"


def run_under(fault, claim, monkeypatch):
    """``claim`` on the fault's framework with the fault installed (undone on return)."""
    with monkeypatch.context() as patched:
        # Fresh adapters: their cached jitted callables must be traced with the fault in place.
        patched.setattr(backends, "_CACHE", {})
        fault.install(patched)
        return run_claim(claim, fault.framework, **RUN)


def find_catchers(fault, order, sweep, monkeypatch):
    """Run each claim of ``order`` clean, then under ``fault``; stop at the first catch unless ``sweep``.
    Returns (catches, claims changed without a catch, claims not as expected even without the fault,
    claims run).  Claims that check no statement on this framework (expected n/a or raises) are skipped."""
    caught, near_misses, no_baseline, ran = [], [], [], 0
    for claim in order:
        ran += 1
        clean = baseline(claim, fault.framework)
        problem = baseline_problem(clean)
        if problem:
            if not clean.as_expected:  # a claim off without any fault: worth saying (n/a, raises: not news)
                no_baseline.append(f"{claim.id}: {problem}")
            continue
        faulty = run_under(fault, claim, monkeypatch)
        how = judge(clean, faulty)
        if how is not None:
            caught.append(f"{claim.id} ({how[0]}: {how[1]})")
            if not sweep:
                break
        elif not faulty.as_expected:
            near_misses.append(f"{claim.id} ({_not_a_catch(clean, faulty)})")
    return caught, near_misses, no_baseline, ran


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_injected_fault_is_caught(fault, monkeypatch, record_property, request):
    reason = backends.availability(fault.framework) or (fault.unreachable and fault.unreachable())
    if reason:
        pytest.skip(reason)
    claims = load_claims()
    unknown = [claim_id for claim_id in fault.try_first if claim_id not in claims]
    assert not unknown, f"fault {fault.name}: try_first names no such claim: {unknown}"
    order = [claims[claim_id] for claim_id in fault.try_first] + [
        claim for claim in claims.values() if claim.id not in fault.try_first]
    sweep = request.config.getoption("all_catchers")
    caught, near_misses, no_baseline, ran = find_catchers(fault, order, sweep, monkeypatch)
    scope = (f"all {len(claims)} claims run" if sweep else
             f"stopped at the first catch, after {ran} of {len(claims)} claims; --all-catchers runs them all")
    record_property("caught_by", f"{fault.name} [{fault.framework}]: {'; '.join(caught) or 'NOTHING'} [{scope}]")
    if near_misses or no_baseline:
        record_property("not_a_catch", f"{fault.name}: " + "; ".join(
            near_misses + [f"{entry} (no clean baseline)" for entry in no_baseline]))
    assert caught, (f"fault '{fault.description}' on {fault.framework} was caught by none of the {len(claims)} "
                    f"claims (no refuted statement, no failed supporting check). Changed without catching it: "
                    f"{'; '.join(near_misses) or 'none'}. No clean baseline: {'; '.join(no_baseline) or 'none'}")


def test_judge_needs_a_refutation_or_a_failed_supporting_check():
    """The rule itself: errors, raises and n/a under the fault, or a claim already off without it, are no catch."""
    from types import SimpleNamespace as R

    def result(verdict, expected="holds", broken=None, failure=None, examples_run=3):
        return R(verdict=verdict, expected=expected, broken=broken, examples_run=examples_run,
                 counterexample=None if failure is None else {"failure": failure}, checks=5, statement_checks=3,
                 as_expected=verdict == expected and broken is None)

    clean = result("holds")
    statement = {"label": "statement", "support": False}
    assert judge(clean, result("refuted", failure=statement)) == ("refuted", "statement")
    assert judge(clean, result("holds", broken={"check": {"label": "fact"}})) == ("failed supporting check", "fact")
    already_broken = result("holds", broken={"check": {"label": "fact"}})
    assert judge(already_broken, result("holds", broken={"check": {"label": "fact"}})) is None
    for verdict in ("error", "raises", "n/a"):
        assert judge(clean, result(verdict)) is None
    assert judge(clean, result("refuted", failure=statement, examples_run=2)) is None  # other examples
    refuted_clean = result("refuted", expected="refuted")
    assert judge(refuted_clean, result("refuted", expected="refuted", failure=statement)) is None
    assert baseline_problem(result("refuted")) is not None  # expected holds: no baseline
    assert baseline_problem(clean) is None
    clean.statement_checks = 0
    assert baseline_problem(clean) is not None  # supporting checks alone are no baseline


def test_a_framework_that_raises_is_no_catch(monkeypatch):
    """The old rule (any unexpected verdict) counted a framework that raises as a catch; this one does not.
    F.conv2d raising everywhere makes one_by_one_conv_is_linear 'raises' (not as expected), and the claim
    still catches nothing."""
    from fault_catalog import Fault
    if backends.availability("torch"):
        pytest.skip(backends.availability("torch"))

    def install(mp):
        import torch.nn.functional as F

        def broken(*args, **kwargs):
            raise RuntimeError("conv2d: no kernel for this input")
        mp.setattr(F, "conv2d", broken)

    fault = Fault("torch-conv2d-raises", "torch", "F.conv2d raises", install)
    claim = load_claims()["one_by_one_conv_is_linear"]
    clean, faulty = baseline(claim, "torch"), run_under(fault, claim, monkeypatch)
    assert baseline_problem(clean) is None
    assert faulty.verdict == "raises" and not faulty.as_expected  # what the old rule called caught
    assert judge(clean, faulty) is None
    caught, near_misses, _, _ = find_catchers(fault, [claim], False, monkeypatch)
    assert not caught and near_misses
