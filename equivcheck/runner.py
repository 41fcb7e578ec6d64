"""Run a claim on one backend for its fixed examples plus N hypothesis draws.

Design rules
- Fixed examples (the seeds' numbers) run first, in order; then ``examples``
  draws from the claim's hypothesis space, seeded by ``seed`` with the
  hypothesis database off, so the same seed gives the same results.
- A draw whose verdict is ``refuted`` or ``error`` (or differs from the fixed
  examples' verdict) is *interesting*: hypothesis shrinks it, and the smallest
  such example becomes the counterexample.
- Per example: ``NotApplicable`` → ``n/a``; an exception raised inside a
  framework, an adapter or the oracle → ``raises``; an exception raised in
  equivcheck's core or a case body → ``error`` (a harness bug, never a verdict;
  see :func:`equivcheck.checker.is_framework_error`).
- No verdict without evidence: an example whose body returns without a single
  check of the statement (only ``support=True`` checks, or none) is ``error``,
  naming the case file; an example that cannot run is ``n/a`` and counted in the
  result's ``skipped``.  Every result carries how many examples made statement
  checks and how many of those checks passed.
- The claim's ``space`` failing (an exception while drawing, hypothesis unable to
  draw) is ``error`` naming the file and the field, never a silent shortfall; a
  run with fewer draws than asked records both numbers.
- Verdict over examples: error > refuted > raises > holds.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from equivcheck import backends
from equivcheck.backends.base import NotApplicable
from equivcheck.checker import Checker, Params, error_info, is_framework_error
from equivcheck.claim import Claim
from equivcheck.known_issues import KnownIssueSkip

PRIORITY = {"error": 4, "refuted": 3, "raises": 2, "holds": 1, "n/a": 0}
DEFAULT_EXAMPLES = 5
DEFAULT_SEED = 0
#: Called with each example's params just before it runs (``equivcheck.worker`` reports them, so a
#: crash in native code still names the example that caused it).
EXAMPLE_HOOK = None


@dataclass
class Outcome:
    """What one example gave."""

    verdict: str
    params: dict
    failure: dict | None = None
    broken: dict | None = None  # first failed supporting check
    error: dict | None = None
    reason: str = ""
    facts: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    worst: Any = None
    checks: int = 0
    statement_checks: int = 0
    statement_checks_passed: int = 0
    #: ``n/a`` for this one example only (a known framework issue), not "the framework has no such op".
    per_example: bool = False


@dataclass
class Result:
    """One claim × framework × dtype: the record tests assert on and results files hold."""

    claim: str
    framework: str
    framework_version: str
    versions: dict
    dtype: str
    device: str
    verdict: str
    expected: str
    max_abs_err: float | None
    bound: float | None
    ratio: float | None
    counterexample: dict | None
    seed: int
    examples: int
    examples_run: int
    reason: str = ""
    error: dict | None = None
    errors: dict = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    checks: int = 0
    duration_s: float = 0.0
    #: A supporting fact that failed (params + check): always a suite failure.
    broken: dict | None = None
    #: Why ``expected`` differs from the claim's general expectation on this build ("" when it does not).
    expected_because: str = ""
    #: A failed supporting check is part of that known deviation (see equivcheck.claim.deviation).
    broken_expected: bool = False
    #: Examples that did not run (``n/a``) in a claim whose verdict is not ``n/a``, e.g. one a known
    #: framework crash guards against: [{"reason", "count", "params" (the first such example)}].
    skipped: list = field(default_factory=list)
    #: The evidence: examples that ran and made at least one check of the statement (the rest of
    #: ``examples_run`` are in ``skipped``), and those checks, run and passed.
    examples_checked: int = 0
    statement_checks: int = 0
    statement_checks_passed: int = 0
    #: Hypothesis draws asked for and made before the first interesting one or the end (shrink steps
    #: not counted); fewer than asked when the space is small or a draw decided the claim early.
    draws_asked: int = 0
    draws_run: int = 0
    #: The engine's precision setting when it is not equivcheck's pinned one (Backend.precision).
    precision: str = ""

    @property
    def as_expected(self) -> bool:
        return record_as_expected(vars(self))

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)


def run_example(claim: Claim, bk, params: dict, *, values: str = "normal", value_seed: int = 0) -> Outcome:
    """Run the claim body once; never raises (except KeyboardInterrupt and the like)."""
    ctx = Checker(bk, dtype=bk.dtype, compute_dtype=getattr(bk, "compute_dtype", bk.dtype),
                  values=values, value_seed=value_seed, case_dir=claim.path.parent)
    shown = dict(params)
    if values != "normal" or value_seed:
        shown.update(_values=values, _value_seed=value_seed)
    if EXAMPLE_HOOK is not None:
        EXAMPLE_HOOK(shown)
    try:
        with bk.session():
            claim.body(bk, Params(params), ctx)
    except NotApplicable as exc:
        return Outcome("n/a", shown, reason=str(exc), per_example=isinstance(exc, KnownIssueSkip))
    except Exception as exc:
        info = error_info(exc)
        verdict = "raises" if is_framework_error(exc, claim.path.parent) else "error"
        if verdict == "error":
            import traceback

            info["traceback"] = "".join(traceback.format_exception(exc)[-6:])
            # one line that names where the case's own code failed: its deepest frame in the case file
            in_case = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(claim.path)]
            if in_case:
                info["message"] = f"{claim.path}:{in_case[-1].lineno}: {info['message']}"
        # A check that failed before the framework raised is already evidence against the statement: the
        # example is refuted by it (the raise is kept as the example's error); a harness error stays an error.
        refuted_first = verdict == "raises" and bool(ctx.failures)
        return Outcome("refuted" if refuted_first else verdict, shown, error=info, facts=ctx.facts,
                       errors=ctx.errors, failure=ctx.failures[0] if refuted_first else None,
                       broken=ctx.broken[0] if ctx.broken else None,
                       arrays=ctx.printable_arrays(), worst=ctx.worst, checks=len(ctx.checks),
                       statement_checks=ctx.statement_checks, statement_checks_passed=ctx.statement_checks_passed)
    evidence = dict(checks=len(ctx.checks), statement_checks=ctx.statement_checks,
                    statement_checks_passed=ctx.statement_checks_passed)
    if not ctx.statement_checks:
        made = f"only {len(ctx.checks)} supporting check(s)" if ctx.checks else "no check at all"
        return Outcome("error", shown, facts=ctx.facts, errors=ctx.errors, arrays=ctx.printable_arrays(),
                       error={"type": "equivcheck.claim.ClaimError",
                              "message": f"{claim.path}: the body returned without checking the statement "
                                         f"({made}); an example it cannot check must raise NotApplicable"},
                       **evidence)
    failure = ctx.failures[0] if ctx.failures else None
    broken = ctx.broken[0] if ctx.broken else None
    return Outcome("refuted" if failure else "holds", shown, failure=failure, broken=broken,
                   facts=ctx.facts, errors=ctx.errors,
                   arrays=ctx.printable_arrays(), worst=ctx.worst, **evidence)


class _Interesting(Exception):
    def __init__(self, outcome: Outcome):
        super().__init__(outcome.verdict)
        self.outcome = outcome


def _is_interesting(outcome: Outcome, reference_verdict: str | None) -> bool:
    # A draw that holds is never the interesting one: shrinking into it would
    # replace a refutation's counterexample by an example that proves nothing.
    return outcome.verdict in ("refuted", "error") or outcome.broken is not None or (
        outcome.verdict == "raises" and reference_verdict != "raises")


def _draw(claim: Claim, bk, examples: int, seed: int,
          reference_verdict: str | None) -> tuple[list[Outcome], Outcome | None, int]:
    """``examples`` hypothesis draws; returns all outcomes (shrink steps included), the shrunk
    interesting one, and how many draws were made before shrinking began.

    An exception from the claim's ``space`` (or hypothesis failing to draw from it) is an ``error``
    outcome naming the file and the field; hypothesis' complaint that a *framework* behaved flakily
    keeps the last interesting draw.
    """
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import errors as hypothesis_errors
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    seen: list[Outcome] = []
    generated = []  # the number of draws when the first interesting one appeared (then shrinking starts)
    space = claim.space
    limit = getattr(bk, "distinct_draws", None)
    if limit and examples > limit:
        pool = parameter_pool(claim.space, limit, seed)
        if pool:  # an empty pool means the space did not draw: the run below reports why
            space = st.sampled_from(pool)

    @hypothesis_seed(seed)
    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
              report_multiple_bugs=False, verbosity=Verbosity.quiet, print_blob=False)
    @given(params=space, values=st.sampled_from(["int", "normal"]), value_seed=st.integers(0, 2**31 - 1))
    def probe(params, values, value_seed):
        outcome = run_example(claim, bk, params, values=values, value_seed=value_seed)
        seen.append(outcome)
        if _is_interesting(outcome, reference_verdict):
            if not generated:
                generated.append(len(seen))
            raise _Interesting(outcome)

    def made() -> int:
        return generated[0] if generated else len(seen)

    try:
        probe()
    except _Interesting as found:
        return seen, found.outcome, made()
    except Exception as exc:  # noqa: BLE001 - sorted below: a framework's flakiness, or the space's fault
        framework_flaky = isinstance(exc, hypothesis_errors.Flaky) and not isinstance(
            exc, getattr(hypothesis_errors, "FlakyStrategyDefinition", ()))
        if framework_flaky:  # the same example gave different verdicts: keep the last interesting draw
            interesting = [o for o in seen if _is_interesting(o, reference_verdict)]
            return seen, (interesting[-1] if interesting else None), made()
        where = "hypothesis could not draw from it" if isinstance(exc, hypothesis_errors.HypothesisException) \
            else "drawing from it raised"
        failed = Outcome("error", {}, error={
            "type": "equivcheck.claim.ClaimError",
            "message": f"{claim.path}: field 'space': {where} {type(exc).__name__}: {exc}".strip(),
            "traceback": "".join(__import__("traceback").format_exception(exc)[-6:])})
        return seen + [failed], failed, made()
    return seen, None, made()


def parameter_pool(space, size: int, seed: int) -> list[dict]:
    """Up to ``size`` distinct parameter sets drawn from ``space`` with ``seed`` (hypothesis' first,
    simplest draw among them), for engines with :attr:`~equivcheck.backends.base.Backend.distinct_draws`.
    Empty when the space cannot draw (the ordinary run then reports the space's error)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed

    pool: list[dict] = []

    @hypothesis_seed(seed)
    @settings(max_examples=4 * size, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, print_blob=False)
    @given(params=space)
    def collect(params):
        if len(pool) < size and params not in pool:
            pool.append(params)

    try:
        collect()
    except Exception:  # noqa: BLE001 - the space's fault, reported by the run that follows
        return []
    return pool


def _blame_space(claim: Claim, shrunk: Outcome | None) -> None:
    """An oracle shape error on a *drawn* example, where the seed examples run, is
    the case's fault: its ``space`` yields invalid shapes.  Say so, naming the field."""
    if shrunk is None or shrunk.verdict != "raises" or not shrunk.error["type"].endswith("OracleError"):
        return
    shrunk.verdict = "error"
    shrunk.error = {"type": "equivcheck.claim.ClaimError",
                    "message": f"{claim.path}: field 'space': draws invalid parameters {shrunk.params}: "
                               f"the oracle rejects them ({shrunk.error['message']})"}


def record_as_expected(record: dict) -> bool:
    """Whether a result record (a :class:`Result` or a line of a results file) is what its case
    file expects: the expected verdict, and no failed supporting check unless a known deviation
    covers it."""
    return (record.get("verdict") == record.get("expected")
            and (not record.get("broken") or bool(record.get("broken_expected"))))


def run_claim(claim: Claim, framework: str, *, dtype: str = "float32", examples: int = DEFAULT_EXAMPLES,
              seed: int = DEFAULT_SEED, device: str = "cpu", allow_tf32: bool = False,
              params: dict | None = None) -> Result:
    """Run ``claim`` on ``framework``; ``params`` runs exactly that one example (reproduce mode).

    Raises :class:`equivcheck.backends.BackendUnavailable` when the framework
    is not installed (callers turn it into a skip).
    """
    if examples < 0:
        raise ValueError(f"examples must be >= 0, got {examples}")
    bk = backends.load(framework, dtype=dtype, device=device, allow_tf32=allow_tf32)
    started = time.perf_counter()
    draws_asked = draws_run = 0
    if params is not None:
        fixed = dict(params)
        values, value_seed = fixed.pop("_values", "normal"), fixed.pop("_value_seed", 0)
        outcomes = [run_example(claim, bk, fixed, values=values, value_seed=value_seed)]
        shrunk = None
    else:
        outcomes = [run_example(claim, bk, example) for example in claim.examples]
        shrunk = None
        # Draws are skipped only where the framework has no such operation at all (every fixed example
        # n/a for that reason); an example a known issue kept from running says nothing about the draws.
        framework_lacks_it = all(o.verdict == "n/a" and not o.per_example for o in outcomes)
        if not framework_lacks_it and claim.space is not None and examples > 0:
            reference = max((o.verdict for o in outcomes), key=PRIORITY.get)
            draws_asked = examples
            drawn, shrunk, draws_run = _draw(claim, bk, examples, seed, reference)
            outcomes += drawn
            if framework == "numpy" and reference != "raises":
                _blame_space(claim, shrunk)
    result = _summarise(claim, bk, framework, outcomes, shrunk, dtype=dtype, device=device, seed=seed,
                        examples=examples, duration=time.perf_counter() - started)
    result.draws_asked, result.draws_run = draws_asked, draws_run
    result.precision = bk.precision
    return result


def _summarise(claim, bk, framework, outcomes, shrunk, *, dtype, device, seed, examples, duration) -> Result:
    verdict = max((o.verdict for o in outcomes), key=PRIORITY.get)
    deciding = shrunk if shrunk is not None and shrunk.verdict == verdict else next(
        o for o in outcomes if o.verdict == verdict)
    worst = None
    for outcome in outcomes:
        if outcome.worst is not None and (worst is None or outcome.worst.ratio > worst.ratio):
            worst = outcome.worst
    counterexample = None
    versions = bk.versions()
    expected, because, broken_expected = claim.expected_for(framework, dtype, versions)
    if verdict in ("refuted", "error") or (verdict == "raises" and expected != "raises"):
        counterexample = {"params": deciding.params, "failure": deciding.failure, "error": deciding.error,
                          "arrays": deciding.arrays}
    broken_outcome = next((o for o in ([shrunk] if shrunk else []) + outcomes if o.broken is not None), None)
    broken = None if broken_outcome is None else {"params": broken_outcome.params, "check": broken_outcome.broken,
                                                   "arrays": broken_outcome.arrays}
    facts, errors = {}, {}
    for outcome in outcomes:
        facts.update(outcome.facts)
        errors.update(outcome.errors)
    skipped: dict[str, dict] = {}
    if verdict != "n/a":
        for outcome in outcomes:
            if outcome.verdict == "n/a":
                entry = skipped.setdefault(outcome.reason, {"reason": outcome.reason, "count": 0,
                                                            "params": outcome.params})
                entry["count"] += 1
    return Result(
        claim=claim.id, framework=framework, framework_version=versions.get(framework, next(iter(versions.values()), "?")),
        versions=versions, dtype=dtype, device=device, verdict=verdict, expected=expected,
        max_abs_err=None if worst is None else worst.max_abs_err,
        bound=None if worst is None else worst.bound,
        ratio=None if worst is None else worst.ratio,
        counterexample=counterexample, seed=seed, examples=examples, examples_run=len(outcomes),
        reason=deciding.reason, error=deciding.error, errors=errors, facts=facts,
        checks=sum(o.checks for o in outcomes), duration_s=round(duration, 4), broken=broken,
        expected_because=because, broken_expected=broken_expected and broken is not None,
        skipped=list(skipped.values()),
        examples_checked=sum(1 for o in outcomes if o.statement_checks),
        statement_checks=sum(o.statement_checks for o in outcomes),
        statement_checks_passed=sum(o.statement_checks_passed for o in outcomes),
    )
