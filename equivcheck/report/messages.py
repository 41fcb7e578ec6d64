"""The one failure message: what was seen, what was expected, and how to rerun it.

``equivcheck run`` prints it for every unexpected verdict and the pytest plugin fails a claim test
with it, so a user reads the same diagnosis whichever way they ran the claim:

- the claim, the framework and its version, the dtype and device, and which way the verdict differs;
- the statement and the case file, and the case's note for that framework where it has one;
- the parameters of the deciding example (and its input values when they are not the defaults);
- the failing check: the error against the bound, or the shapes in words, or the values that differ;
- the exception for ``raises`` and ``error`` (with the traceback's tail for ``error``);
- one command that reruns exactly that example (``reproduce_command``).
"""
from __future__ import annotations

import json
import math
import shlex

from equivcheck.runner import Result

#: Keys the runner adds to an example's params to carry its input values; the reproduce command
#: spells them ``--values`` and ``--value-seed`` instead.
VALUE_KEYS = ("_values", "_value_seed")


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


def split_values(params: dict | None) -> tuple[dict | None, str, int]:
    """(the claim's own parameters, input-value kind, value seed) of an example's params.

    >>> split_values({"k": 3, "_values": "int", "_value_seed": 7})
    ({'k': 3}, 'int', 7)
    """
    if params is None:
        return None, "normal", 0
    own = {k: v for k, v in params.items() if k not in VALUE_KEYS}
    return own, params.get("_values", "normal"), int(params.get("_value_seed", 0))


def deciding_params(result: Result) -> dict | None:
    """The params (runner spelling, value keys included) of the example that decided ``result``."""
    return (result.broken or result.counterexample or {}).get("params")


def reproduce_command(result: Result, claim=None) -> str:
    """One shell command that reruns exactly the deciding example of ``result`` (or the whole claim ×
    framework × dtype when no example decided it).  A claim outside the built-in catalog gets the
    ``--cases`` directory it was loaded from.

    >>> from types import SimpleNamespace as R
    >>> reproduce_command(R(claim="c", framework="torch", dtype="float32", device="cpu", seed=0, examples=5,
    ...                     broken=None, counterexample={"params": {"k": 2, "_values": "int", "_value_seed": 9}}))
    'equivcheck run --claims c --frameworks torch --dtypes float32 --params \\'{"k": 2}\\' --values int --value-seed 9'
    """
    params, values, value_seed = split_values(deciding_params(result))
    words = ["equivcheck", "run", "--claims", result.claim, "--frameworks", result.framework, "--dtypes", result.dtype]
    if result.device != "cpu":
        words += ["--device", result.device]
    if claim is not None and not _builtin(claim):
        words += ["--cases", str(claim.path.parent)]
    if params is None:  # no single example decided it: rerun the draws with the same seed
        words += ["--seed", str(result.seed), "--examples", str(result.examples)]
        return " ".join(shlex.quote(w) for w in words)
    command = " ".join(shlex.quote(w) for w in words) + " --params " + shlex.quote(_compact(params))
    if values != "normal" or value_seed:
        command += f" --values {values} --value-seed {value_seed}"
    return command


def _builtin(claim) -> bool:
    from equivcheck.claim import DEFAULT_CASES_DIR

    try:
        return claim.path.parent.resolve() == DEFAULT_CASES_DIR.resolve()
    except OSError:
        return False


def _shape_words(reason: str) -> str | None:
    """``"shape (2, 3) != (2, 4)"`` → ``"the result has shape (2, 3), the expected value (2, 4)"``."""
    if not reason.startswith("shape ") or " != " not in reason:
        return None
    got, want = reason[len("shape "):].split(" != ", 1)
    return f"the result has shape {got}, the expected value has shape {want}"


def check_in_words(failure: dict) -> str:
    """What a failed check saw, in words: the error against the bound, shapes, or differing values."""
    reason = failure.get("reason") or ""
    shapes = _shape_words(reason)
    if shapes:
        return shapes
    if failure.get("kind") == "close":
        detail = (f"max_abs_err={failure['max_abs_err']:.3g} vs bound={failure['bound']:.3g} "
                  f"(ratio {failure['ratio']:.3g})")
        if failure.get("where") is not None:
            detail += f" at index {tuple(failure['where'])}: got {failure['got']!r}, want {failure['want']!r}"
        return detail + (f" [{reason}]" if reason else "")
    if failure.get("kind") == "identical" and failure.get("where") is not None:
        return (f"{reason}; the first at index {tuple(failure['where'])}: got {failure['got']!r}, "
                f"want {failure['want']!r}")
    return f"got {failure.get('got')!r}, want {failure.get('want')!r}" + (f" [{reason}]" if reason else "")


def failure_message(claim, result: Result) -> str:
    """The multi-line message of an unexpected verdict (see the module docstring).

    It names the claim, framework, dtype and parameters, shows the error against
    the bound, and ends with one command that reproduces exactly that example.
    """
    lines = [f"{claim.id} on {result.framework} {result.framework_version} ({result.dtype}, {result.device}): "
             f"{direction(result)}",
             f"  statement: {claim.statement}",
             f"  source: {claim.path}"]
    if result.framework in claim.notes:
        lines.append(f"  note: {claim.notes[result.framework]}")
    example = result.counterexample or {}
    if result.broken is not None:
        example = {"params": result.broken["params"], "failure": result.broken["check"],
                   "arrays": result.broken["arrays"]}
    if example.get("params") is not None:
        params, values, value_seed = split_values(example["params"])
        lines.append(f"  params: {_compact(params)}")
        if values != "normal" or value_seed:
            lines.append(f"  input values: {values} (value seed {value_seed})")
    failure = example.get("failure")
    if failure:
        lines.append(f"  failed check '{failure['label']}': {check_in_words(failure)}")
    elif result.ratio is not None and math.isfinite(result.ratio):
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
    lines.append(f"  reproduce: {reproduce_command(result, claim)}")
    return "\n".join(lines)
