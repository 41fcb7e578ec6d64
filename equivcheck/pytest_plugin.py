"""pytest plugin: options, markers, the report header, and claim × framework tests.

Registered through the ``pytest11`` entry point (and named by the root
conftest.py, so a plain checkout works without installing).  Modelled on
array-api-tests' conftest: the framework under test is chosen by an option
plus an environment variable, markers are registered with descriptions, every
skip carries a reason, and the header prints what was chosen.
"""
from __future__ import annotations

import atexit
import os
import sys

import pytest

from equivcheck import backends
from equivcheck.options import csv as _csv, whole_number
from equivcheck.runner import DEFAULT_EXAMPLES, DEFAULT_SEED

DTYPES = ("float64", "float32")


def pytest_addoption(parser):
    group = parser.getgroup("equivcheck", "equivcheck: cross-framework convolution claims")
    group.addoption("--frameworks", default=None, metavar="a,b",
                    help="comma-separated frameworks to test (numpy, torch, tensorflow, jax, flax); "
                         "default: $EQUIVCHECK_FRAMEWORKS, else all of them (missing ones are skipped with the reason)")
    group.addoption("--claims", default=None, metavar="id,…",
                    help="comma-separated claim ids to run (default: every case in cases/)")
    group.addoption("--examples", default=None, metavar="N",
                    help=f"hypothesis draws per claim × framework × dtype, on top of the seeds' fixed examples "
                         f"(default {DEFAULT_EXAMPLES}; 0 runs the fixed examples only)")
    group.addoption("--seed", default=None, metavar="S",
                    help=f"seed for the hypothesis draws and input values (default {DEFAULT_SEED}); "
                         f"failures print it in their reproduce command")
    group.addoption("--dtypes", default=",".join(DTYPES), metavar="a,b",
                    help="run dtypes (default: float64,float32)")
    group.addoption("--device", default="cpu", choices=("cpu", "gpu"),
                    help="where the frameworks compute (default cpu); on gpu, TF32 is turned off unless --allow-tf32")
    group.addoption("--allow-tf32", action="store_true", default=False,
                    help="leave TF32 on for GPU float32 matmuls/convs (shows what TF32 does to error/bound)")


class Options:
    """Validated equivcheck options of a pytest session."""

    def __init__(self, config):
        def get(name):
            return config.getoption(name)

        try:
            if get("frameworks") is not None:
                self.frameworks = backends.check_names(_csv(get("frameworks")), "--frameworks")
            elif os.environ.get("EQUIVCHECK_FRAMEWORKS"):
                self.frameworks = backends.check_names(_csv(os.environ["EQUIVCHECK_FRAMEWORKS"]), "EQUIVCHECK_FRAMEWORKS")
            else:
                self.frameworks = backends.FRAMEWORKS
        except backends.UnknownFramework as exc:
            raise pytest.UsageError(str(exc)) from None
        self.examples = _positive_int(get("examples"), "--examples", DEFAULT_EXAMPLES, minimum=0)
        self.seed = _positive_int(get("seed"), "--seed", DEFAULT_SEED, minimum=0)
        self.dtypes = tuple(_csv(get("dtypes")))
        bad = [d for d in self.dtypes if d not in DTYPES]
        if bad or not self.dtypes:
            raise pytest.UsageError(f"--dtypes: unknown dtype {bad[0] if bad else '(none)'!r}; choose from {', '.join(DTYPES)}")
        self.claim_ids = _csv(get("claims"))
        self.device = get("device")
        self.allow_tf32 = get("allow_tf32")


def _positive_int(raw, option: str, default: int, minimum: int) -> int:
    if raw is None:
        return default
    try:
        return whole_number(raw, minimum)
    except ValueError as exc:
        raise pytest.UsageError(f"{option}: {exc}") from None


def pytest_configure(config):
    config.addinivalue_line("markers", "claim(id): a claim × framework case from cases/")
    config.addinivalue_line("markers", "framework(name): the framework a test exercises")
    config.addinivalue_line("markers", "meta: fault-injection tests that patch a framework and expect the suite to fail")
    config._equivcheck = Options(config)
    # Determinism: no hypothesis example database (it would replay old failures
    # in a different order), no deadline (first JAX compiles are slow).
    from hypothesis import settings

    settings.register_profile("equivcheck", database=None, deadline=None)
    settings.load_profile("equivcheck")


def _exit_without_teardown():
    """In an xdist worker, at interpreter exit: skip the frameworks' teardown.

    Registered at the worker's ``pytest_unconfigure``, after every framework has
    been imported and has registered its own exit handlers (JAX's backend
    clean-up, torch's, TensorFlow's), so it runs first among them, after pytest
    has finished and the worker has sent its results to the controller.  Tearing
    down TensorFlow, torch and thousands of compiled XLA programs takes seconds
    per worker, and the controller waits for it; nothing a worker holds needs
    saving then (results travel over xdist's channel, JAX's compilation cache
    is written at compile time).  ``EQUIVCHECK_WORKER_FAST_EXIT=0`` turns it off.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _wants_frameworks(config) -> bool:
    """Only import frameworks for the header when claims may run (not for oracle-only runs)."""
    args = [a for a in config.args if not a.startswith("-")]
    return not args or any("test_claims" in a or os.path.isdir(a.split("::")[0]) for a in args)


def pytest_report_header(config):
    options: Options = config._equivcheck
    lines = [f"equivcheck: frameworks={','.join(options.frameworks)} dtypes={','.join(options.dtypes)} "
             f"examples={options.examples} seed={options.seed} device={options.device}"
             + (" allow_tf32" if options.allow_tf32 else "")]
    if not _wants_frameworks(config):
        return lines
    if _is_xdist_controller(config):
        # The workers import the frameworks; importing them here too would only compete with
        # them for the cores.  Versions come from package metadata, and each worker's numeric
        # settings are printed at the end (pytest_testnodedown / terminal summary).
        for framework in options.frameworks:
            reason = backends.availability(framework, import_it=False)
            versions = " ".join(f"{k}={v}" for k, v in sorted(backends.installed_versions(framework).items()))
            lines.append(f"  {framework:<10} " + (f"not available: {reason}" if reason else
                                                  f"{versions} | numeric settings: see the end of the run"))
        return lines
    lines += _settings_lines(options)
    return lines


def _is_xdist_controller(config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def _settings_lines(options) -> list[str]:
    """One line per framework: its versions and the numeric settings claims run under."""
    lines = []
    for framework in options.frameworks:
        try:
            bk = backends.load(framework, "float32", options.device, options.allow_tf32)
        except backends.BackendUnavailable as exc:
            lines.append(f"  {framework:<10} not available: {exc}")
            continue
        versions = " ".join(f"{k}={v}" for k, v in bk.versions().items())
        settings = " ".join(f"{k}={v}" for k, v in bk.numeric_settings().items())
        lines.append(f"  {framework:<10} {versions} | {settings}")
    return lines


_WORKER_SETTINGS: dict[str, list[str]] = {}


def pytest_sessionfinish(session):
    """In an xdist worker: send back the numeric settings its claims ran under."""
    config = session.config
    if hasattr(config, "workeroutput") and _wants_frameworks(config):
        config.workeroutput["equivcheck_settings"] = _settings_lines(config._equivcheck)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """In an xdist worker: register the fast exit now, last of all exit handlers (see above)."""
    if hasattr(config, "workerinput") and os.environ.get("EQUIVCHECK_WORKER_FAST_EXIT", "1") != "0":
        atexit.register(_exit_without_teardown)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown (and never called) without xdist
def pytest_testnodedown(node, error):
    """In the xdist controller: keep what each worker reported."""
    lines = getattr(node, "workeroutput", {}).get("equivcheck_settings")
    if lines:
        _WORKER_SETTINGS[node.gateway.id] = lines


@pytest.fixture(scope="session")
def equivcheck_options(request) -> Options:
    """The validated --frameworks/--examples/--seed/… options."""
    return request.config._equivcheck


_CAUGHT: list[str] = []
_NOT_A_CATCH: list[str] = []


def pytest_runtest_logreport(report):
    """Collect the fault-injection meta-tests' ``caught_by`` and ``not_a_catch`` properties (also from
    xdist workers)."""
    if report.when == "call":
        for name, value in report.user_properties:
            if name == "caught_by":
                _CAUGHT.append(value)
            elif name == "not_a_catch":
                _NOT_A_CATCH.append(value)


def pytest_terminal_summary(terminalreporter):
    if _WORKER_SETTINGS:
        terminalreporter.section("equivcheck: versions and numeric settings the claims ran under")
        for worker, lines in sorted(_WORKER_SETTINGS.items()):
            distinct = [line for line in lines if line not in sum((v for k, v in _WORKER_SETTINGS.items()
                                                                   if k < worker), [])]
            for line in distinct:
                terminalreporter.write_line(f"[{worker}] {line.strip()}")
    if _CAUGHT:
        # tests/test_faults.py: each fault, the claims that caught it against a clean baseline, and how
        # (a refuted statement or a failed supporting check, with the check's label)
        terminalreporter.section("fault injection: claims that caught each fault (refuted / failed supporting check)")
        for line in sorted(_CAUGHT):
            terminalreporter.write_line(line)
    if _NOT_A_CATCH:
        terminalreporter.section("fault injection: claims that could not catch it "
                                 "(changed only to error/raises/n/a, or no clean baseline)")
        for line in sorted(_NOT_A_CATCH):
            terminalreporter.write_line(line)
