"""Human-readable text for one result: what was seen, what was expected, and how to rerun it."""
from __future__ import annotations

import json

from equivcheck.runner import Result, reproduce_command


def direction(result: Result) -> str:
    """Which way reality differs from the case file, in words."""
    if result.broken is not None and result.verdict == result.expected and not result.broken_expected:
        return (f"verdict '{result.verdict}' as expected, but the supporting check "
                f"'{result.broken['check']['label']}' FAILED")
    if result.verdict == "error":
        return "the claim body itself failed (a harness or case bug, not a verdict)"
    if result.expected_because and result.verdict != result.expected:
        return (f"expected '{result.expected}' on this build ({result.expected_because}) but it is "
                f"'{result.verdict}' — if the framework fixed it, remove the deviation from the case file")
    if result.expected in ("refuted", "raises") and result.verdict == "holds":
        return f"UNEXPECTED PASS: expected '{result.expected}' but the claim holds — update the case's expected verdict if the framework changed"
    if result.expected == "holds" and result.verdict in ("refuted", "raises"):
        return f"UNEXPECTED FAILURE: expected 'holds' but it is '{result.verdict}'"
    return f"verdict '{result.verdict}' differs from the expected '{result.expected}'"


def _compact(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def failure_message(claim, result: Result) -> str:
    """The multi-line message a failing claim test prints.

    It names the claim, framework, dtype and parameters, shows the error against
    the bound, and ends with one command that reproduces exactly that example.
    """
    lines = [f"{claim.id} on {result.framework} {result.framework_version} ({result.dtype}, {result.device}): "
             f"{direction(result)}",
             f"  statement: {claim.statement}",
             f"  source: {claim.path}"]
    example = result.counterexample or {}
    if example.get("params") is not None:
        lines.append(f"  params: {_compact(example['params'])}")
    if result.broken is not None:
        example = {"params": result.broken["params"], "failure": result.broken["check"],
                   "arrays": result.broken["arrays"]}
        lines.append(f"  params: {_compact(example['params'])}")
    failure = example.get("failure")
    if failure:
        if failure.get("kind") == "close":
            detail = (f"max_abs_err={failure['max_abs_err']:.3g} vs bound={failure['bound']:.3g} "
                      f"(ratio {failure['ratio']:.3g})")
            if failure.get("where") is not None:
                detail += f" at index {tuple(failure['where'])}: got {failure['got']!r}, want {failure['want']!r}"
            if failure.get("reason"):
                detail += f" [{failure['reason']}]"
        else:
            detail = f"got {failure.get('got')!r}, want {failure.get('want')!r}"
        lines.append(f"  failed check '{failure['label']}': {detail}")
    elif result.ratio is not None:
        lines.append(f"  worst comparison: max_abs_err={result.max_abs_err:.3g} vs bound={result.bound:.3g} "
                     f"(ratio {result.ratio:.3g})")
    if result.error:
        lines.append(f"  raised {result.error['type']}: {result.error['message']}")
        if result.error.get("traceback"):
            lines.append("  " + result.error["traceback"].rstrip().replace("\n", "\n  "))
    if result.reason:
        lines.append(f"  reason: {result.reason}")
    if example.get("arrays"):
        lines.append(f"  inputs: {_compact(example['arrays'])}")
    lines.append(f"  reproduce: {reproduce_command(result)}")
    return "\n".join(lines)
