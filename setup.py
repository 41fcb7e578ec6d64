"""Only what pyproject.toml cannot say: the packages are found (``equivcheck*``) *and* the catalog is
added, the repository's top-level ``cases/`` installed as ``equivcheck/cases/``, so a wheel carries the
claims (``equivcheck list`` works wherever it is installed).  Everything else is in pyproject.toml."""
from setuptools import find_packages, setup

setup(packages=find_packages(include=["equivcheck", "equivcheck.*"]) + ["equivcheck.cases"],
      package_dir={"equivcheck.cases": "cases"})
