"""The README is for users: short, and it documents every option of the command line and the plugin."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from equivcheck.cli import build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("command", ["list", "run", "report"])
def test_every_option_of_every_command_is_in_the_readme(command):
    options = [s for a in _subcommands()[command]._actions for s in a.option_strings
               if s.startswith("--") and s != "--help"]
    missing = [o for o in options if f"`{o}" not in README and f" {o} " not in README and f"[{o}" not in README]
    assert not missing, f"equivcheck {command}: README.md does not document {missing}"


def test_every_plugin_option_and_ini_name_is_in_the_readme():
    class Group:
        def __init__(self):
            self.names = []

        def addoption(self, *names, **_):
            self.names += [n for n in names if n.startswith("--")]

    class Parser:
        def __init__(self):
            self.group, self.ini = Group(), []

        def getgroup(self, *_):
            return self.group

        def addini(self, name, *_, **__):
            self.ini.append(name)

    from equivcheck import pytest_plugin

    parser = Parser()
    pytest_plugin.pytest_addoption(parser)
    missing = [n for n in parser.group.names + parser.ini if f"`{n}" not in README and f" {n} " not in README]
    assert not missing, f"README.md does not document the pytest options {missing}"


def test_the_readme_is_short_and_keeps_the_test_command():
    assert len(README.splitlines()) <= 200
    assert "python -m pytest -n 2 --dist worksteal" in README  # .ci/run runs it verbatim
