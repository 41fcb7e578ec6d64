"""The examples in equivcheck's docstrings run, and give what they show (``>>>`` lines are tests too)."""
from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import equivcheck


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(equivcheck.__path__, prefix="equivcheck."):
        spec = importlib.util.find_spec(info.name)
        origin = getattr(spec, "origin", None)
        if origin and origin.endswith(".py"):
            with open(origin, encoding="utf-8") as source:
                if ">>> " in source.read():
                    names.append(info.name)
    return sorted(names)


MODULES = _modules_with_examples()


def test_the_examples_are_found():
    assert {"equivcheck.checker", "equivcheck.tolerance", "equivcheck.oracle._core"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # an adapter's framework is not installed here
        pytest.skip(f"{name} needs a package that is not installed: {exc}")
    # the examples of what this file defines (a package may re-export them under its own name)
    finder, here = doctest.DocTestFinder(exclude_empty=True), module.__file__
    tests = finder.find(module, name, module=False, globs=vars(module))[:1]
    for attribute, value in vars(module).items():
        try:
            defined_here = inspect.getsourcefile(value) == here
        except TypeError:  # a constant, a module attribute that is no function or class
            continue
        if defined_here:
            tests += finder.find(value, f"{name}.{attribute}", module=False, globs=vars(module))
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, f"{name}: no example ran"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples failed (see above)"
