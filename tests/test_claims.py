"""Every claim × every framework: the verdict must be the one the case file expects.

The test itself is equivcheck's (``equivcheck/pytest_claims.py``, the module ``pytest --equivcheck``
runs in a user's project); this repository turns the plugin on in pyproject.toml (``equivcheck =
true``) and runs the claims from here, so ``python -m pytest`` runs them with the unit tests and
``python -m pytest tests/test_oracle.py`` does not.  Ids look like
``test_claim[pixel_shuffle_folding-tensorflow]``.
"""
from equivcheck.pytest_claims import pytest_generate_tests, test_claim  # noqa: F401 - collected from here
