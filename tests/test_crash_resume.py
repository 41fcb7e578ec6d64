"""Nothing lost: a framework crashing the process keeps earlier results, and --resume completes the run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from equivcheck import backends

HERE = Path(__file__).resolve().parent


def run_cli(args, tmp_path, **env):
    full_env = {**os.environ, "EQUIVCHECK_EXTRA_CASES": str(HERE / "test_only_cases"), **env}
    return subprocess.run([sys.executable, "-m", "equivcheck.cli", *args], cwd=tmp_path, env=full_env,
                          capture_output=True, text=True, timeout=600)


def lines(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def test_abort_in_a_backend_keeps_earlier_results_and_resume_completes(tmp_path):
    if backends.availability("torch", import_it=False):
        pytest.skip("torch is not installed")
    results = tmp_path / "results.jsonl"
    common = ["run", "--frameworks", "numpy,torch", "--claims", "one_by_one_conv_is_linear,abort_inside_backend",
              "--dtypes", "float32", "--examples", "1", "--results", str(results)]
    crashed = run_cli(common, tmp_path, EQUIVCHECK_TEST_ABORT="1")
    assert crashed.returncode == 1, crashed.stdout + crashed.stderr
    assert "did not run: abort_inside_backend × torch (float32): the worker process died (signal SIGABRT)" in crashed.stdout
    # the crash names the example it was running, as a command that runs exactly that example again
    assert ("the example it was running: equivcheck run --claims abort_inside_backend --frameworks torch "
            "--dtypes float32 --seed 0 --examples 1 --params '{\"n\": 1}'") in crashed.stdout, crashed.stdout
    first = lines(results)
    crash = next(r for r in first if r["error"] and r["error"]["type"] == "equivcheck.WorkerCrashed")
    assert crash["counterexample"] == {"params": {"n": 1}}
    finished = {(r["claim"], r["framework"]) for r in first if r["error"] is None or r["error"]["type"] != "equivcheck.WorkerCrashed"}
    # everything else ran, including torch's claim after the crash (the worker was restarted)
    assert finished == {("one_by_one_conv_is_linear", "numpy"), ("abort_inside_backend", "numpy"),
                        ("one_by_one_conv_is_linear", "torch")}

    resumed = run_cli([*common, "--resume"], tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "[1/1] abort_inside_backend × torch float32: holds" in resumed.stderr  # only the missing one ran
    second = lines(results)
    assert second[: len(first)] == first  # earlier lines intact
    assert {(r["claim"], r["framework"], r["verdict"]) for r in second[len(first):]} == {
        ("abort_inside_backend", "torch", "holds")}
