"""What the pytest plugin shows a user: the header, and under xdist the settings each worker ran with."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from equivcheck import backends
from equivcheck.pytest_plugin import _settings_lines

ROOT = Path(__file__).resolve().parent.parent


def test_in_one_process_the_header_carries_versions_and_numeric_settings(equivcheck_options):
    lines = _settings_lines(equivcheck_options)
    assert len(lines) == len(equivcheck_options.frameworks)
    numpy_line = next(line for line in lines if line.strip().startswith("numpy"))
    assert f"numpy={backends.installed_versions('numpy')['numpy']}" in numpy_line
    assert "compute_dtype=" in numpy_line


def test_under_xdist_the_controller_imports_nothing_and_the_workers_report_their_settings():
    pytest.importorskip("xdist")
    out = subprocess.run([sys.executable, "-m", "pytest", "tests/test_claims.py", "--claims", "conv_output_size",
                          "--frameworks", "numpy", "--dtypes", "float64", "--examples", "0", "-n", "1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:]
    header, _, tail = out.stdout.partition("created: 1/1 worker")
    assert "equivcheck: frameworks=numpy dtypes=float64 examples=0 seed=0 device=cpu" in header
    version = backends.installed_versions("numpy")["numpy"]
    assert f"numpy      numpy={version} | numeric settings: see the end of the run" in header
    assert "versions and numeric settings the claims ran under" in tail
    assert "[gw0] numpy" in tail and "compute_dtype=float64" in tail
