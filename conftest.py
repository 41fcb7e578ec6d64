"""Thin root conftest: the real plugin lives in equivcheck/pytest_plugin.py.

Installed with pip (``pip install -e .`` included), the plugin is registered through the pytest11
entry point; naming it here makes a checkout that was never installed work too.  Only then: pytest
also reads this file when another project's ``pytest --equivcheck`` collects
equivcheck/pytest_claims.py from this checkout, and ``pytest_plugins`` is refused outside the
rootdir's own conftest.
"""
from importlib.metadata import entry_points

if not any(entry.value == "equivcheck.pytest_plugin" for entry in entry_points(group="pytest11")):
    pytest_plugins = ["equivcheck.pytest_plugin"]
