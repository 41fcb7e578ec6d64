"""The wheel carries every subpackage and the catalog.

The slow, whole check is in .ci/run: it builds the wheel, installs it into a fresh venv and runs
``equivcheck list`` / ``run`` from an empty directory.  This is the quick one, on the build's own list.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from equivcheck.claim import CHECKOUT_CASES_DIR, DEFAULT_CASES_DIR, PACKAGED_CASES_DIR

ROOT = Path(__file__).resolve().parent.parent


def test_the_build_lists_every_subpackage_and_the_catalog():
    code = ("import setuptools, sys; seen = {}; setuptools.setup = lambda **kw: seen.update(kw); "
            "sys.argv = ['setup.py']; exec(open('setup.py').read()); print(repr(seen))")
    listed = eval(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout)
    found = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "equivcheck").rglob("__init__.py")}
    assert found <= set(listed["packages"])
    assert "equivcheck.cases" in listed["packages"] and listed["package_dir"] == {"equivcheck.cases": "cases"}


def test_the_loader_finds_the_catalog_in_a_checkout_or_an_installed_wheel():
    assert DEFAULT_CASES_DIR == (PACKAGED_CASES_DIR if PACKAGED_CASES_DIR.is_dir() else CHECKOUT_CASES_DIR)
    assert sorted(p.name for p in DEFAULT_CASES_DIR.glob("*.py")) == sorted(p.name for p in (ROOT / "cases").glob("*.py"))
