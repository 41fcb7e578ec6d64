"""Options of the meta-tests (tests/test_faults.py) and the test order; the claim options live in
equivcheck/pytest_plugin.py."""

#: The longest tests: a claim on JAX or Flax compiles a new XLA program for nearly every draw.
_LONG = ("-jax]", "-flax]")


def pytest_addoption(parser):
    parser.getgroup("equivcheck").addoption(
        "--all-catchers", action="store_true", default=False,
        help="fault-injection meta-tests: run the whole catalog under each fault and name every claim that "
             "catches it (default: stop at the first one, which is the proof)")


def pytest_collection_modifyitems(config, items):
    """Longest first: the claims on JAX and Flax lead, everything else keeps its order after them.

    Under ``-n 2 --dist worksteal`` each worker starts on its share and steals from the end of the
    other's queue, so a run that ends on short tests ends with both workers busy, instead of one
    worker finishing a 10-second claim alone (measured: up to 6 s of one idle core)."""
    def long(item):
        return item.nodeid.startswith("tests/test_claims.py") and item.nodeid.endswith(_LONG)
    items.sort(key=lambda item: not long(item))  # stable: the rest stays in collection order


#: Set by .ci/run where it could install a browser: the HTML report's browser test must then run.
_BROWSER_TESTS = ("test_html_report_renders_offline_in_headless_chromium",)


import os  # noqa: E402 - kept next to the hook that needs it

import pytest  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With ``EQUIVCHECK_REQUIRE_BROWSER=1`` (CI, where Chromium is installed) a skipped browser test
    is a failure: CI must render the report, not skip past it."""
    outcome = yield
    report = outcome.get_result()
    if (report.skipped and item.originalname in _BROWSER_TESTS
            and os.environ.get("EQUIVCHECK_REQUIRE_BROWSER") == "1"):
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} was skipped ({report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr}), "
                           f"but EQUIVCHECK_REQUIRE_BROWSER=1 says a browser is installed")
