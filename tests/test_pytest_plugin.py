"""What the pytest plugin shows a user: the header, and under xdist the settings each worker ran with."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from equivcheck import backends

ROOT = Path(__file__).resolve().parent.parent


def _pytest(*args):
    return subprocess.run([sys.executable, "-m", "pytest", "tests/test_claims.py", "--claims", "conv_output_size",
                           "--frameworks", "numpy", "--dtypes", "float64", "--examples", "0", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_header_names_the_run_and_the_framework_versions():
    out = _pytest()
    assert out.returncode == 0, out.stdout[-2000:]
    assert "equivcheck: frameworks=numpy dtypes=float64 examples=0 seed=0 device=cpu" in out.stdout
    # in one process the header carries the numeric settings themselves
    assert "numpy=" in out.stdout and "compute_dtype=float64" in out.stdout.split("collected")[0]


def test_under_xdist_the_controller_imports_nothing_and_the_workers_report_their_settings():
    pytest.importorskip("xdist")
    out = _pytest("-n", "1")
    assert out.returncode == 0, out.stdout[-2000:]
    header, _, tail = out.stdout.partition("created: 1/1 worker")
    version = backends.installed_versions("numpy")["numpy"]
    assert f"numpy      numpy={version} | numeric settings: see the end of the run" in header
    assert "versions and numeric settings the claims ran under" in tail
    assert "[gw0] numpy" in tail and "compute_dtype=float64" in tail
