"""Options of the meta-tests (tests/test_faults.py); the claim options live in equivcheck/pytest_plugin.py."""


def pytest_addoption(parser):
    parser.getgroup("equivcheck").addoption(
        "--all-catchers", action="store_true", default=False,
        help="fault-injection meta-tests: run the whole catalog under each fault and name every claim that "
             "catches it (default: stop at the first one, which is the proof)")
