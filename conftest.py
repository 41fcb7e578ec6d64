"""Thin root conftest: the real plugin lives in equivcheck/pytest_plugin.py.

Installed with pip, the plugin is also registered through the pytest11 entry
point; naming it here makes a plain checkout work too.
"""
pytest_plugins = ["equivcheck.pytest_plugin"]
