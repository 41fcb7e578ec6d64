"""Nothing lost: a framework crashing the process keeps earlier results, and --resume completes the run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_cli(args, tmp_path, **env):
    full_env = {**os.environ, "EQUIVCHECK_EXTRA_CASES": str(HERE / "test_only_cases"), **env}
    return subprocess.run([sys.executable, "-m", "equivcheck.cli", *args], cwd=tmp_path, env=full_env,
                          capture_output=True, text=True, timeout=600)


def lines(path):
    """The result records of a results file (its run header is checked by tests/test_resume.py)."""
    return [record for line in Path(path).read_text().splitlines() if line.strip()
            if "claim" in (record := json.loads(line))]


def test_abort_in_a_backend_keeps_earlier_results_and_resume_completes(tmp_path):
    # The oracle's column (numpy) is the crashing framework: a worker starts in a fraction of a
    # second, and the crash path is the same for every framework (one worker process each).
    results = tmp_path / "results.jsonl"
    common = ["run", "--frameworks", "numpy", "--claims", "abort_inside_backend,one_by_one_conv_is_linear",
              "--dtypes", "float32", "--examples", "1", "--results", str(results)]
    crashed = run_cli(common, tmp_path, EQUIVCHECK_TEST_ABORT="numpy")
    assert crashed.returncode == 1, crashed.stdout + crashed.stderr
    assert "did not run: abort_inside_backend × numpy (float32): the worker process died (signal SIGABRT)" in crashed.stdout
    # the crash names the example it was running, as a command that runs exactly that example again
    # (a claim outside the built-in catalog: the command names its --cases directory)
    assert ("the example it was running: equivcheck run --claims abort_inside_backend --frameworks numpy "
            f"--dtypes float32 --cases {HERE / 'test_only_cases'} --params '{{\"n\": 1}}'") in crashed.stdout, crashed.stdout
    first = lines(results)
    crash = next(r for r in first if r["error"] and r["error"]["type"] == "equivcheck.WorkerCrashed")
    assert crash["counterexample"] == {"params": {"n": 1}}
    finished = {(r["claim"], r["framework"]) for r in first if r["error"] is None or r["error"]["type"] != "equivcheck.WorkerCrashed"}
    # the claim after the crash ran too: the worker was restarted on what it had not reached
    assert finished == {("one_by_one_conv_is_linear", "numpy")}

    resumed = run_cli([*common, "--resume"], tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "[1/1] abort_inside_backend × numpy float32: holds" in resumed.stderr  # only the missing one ran
    second = lines(results)
    assert second[: len(first)] == first  # earlier lines intact
    assert {(r["claim"], r["framework"], r["verdict"]) for r in second[len(first):]} == {
        ("abort_inside_backend", "numpy", "holds")}


def test_crash_excerpt_keeps_the_line_that_says_why():
    from equivcheck.worker import crash_excerpt

    stderr = ("noise\n" * 50 + "F1122 01:04:56.004557 22507 algebraic_simplifier.cc:586] Check failed: "
              "computation->Accept(this) is OK (INVALID_ARGUMENT: Window dimensions do not match RHS shape:\n"
              + "    @     0x7fae62690e0a  xla::ifrt::PjRtCompiler::CompileAndLoad()\n" * 100)
    cause = crash_excerpt(stderr, 500, tail=False)
    assert cause.startswith("F1122") and cause.endswith("Window dimensions do not match RHS shape:")
    kept = crash_excerpt(stderr, 500)
    assert kept.startswith(cause) and kept.endswith(stderr[-500:])  # the cause, then the stack's tail
    assert crash_excerpt("just a tail\n" * 100, 40) == ("just a tail\n" * 100)[-40:]  # nothing names a cause
