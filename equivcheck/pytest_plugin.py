"""pytest plugin: the claims as claim × framework tests, here and in a user's project.

Off unless asked for.  Installed with equivcheck (the ``pytest11`` entry point), the plugin is
loaded by every pytest run in that environment; in a run that does not ask for it, it only
registers its options (they show in ``pytest --help``): no header lines, no imports of NumPy or a
framework, no items, no settings changed.  Two ways to ask:

- ``pytest --equivcheck``: collect the built-in catalog and the ``--cases`` directories as
  ``test_claim[<claim>-<framework>]`` items (from ``equivcheck/pytest_claims.py``), next to
  whatever else pytest collects; ``--equivcheck --no-builtin --cases my_claims`` runs only yours.
- ``equivcheck = true`` in the project's pytest configuration: the plugin is on in every run
  (header, options, the ``equivcheck_options`` fixture), and a test module of the project that
  does ``from equivcheck.pytest_claims import *`` runs the claims when it is collected, so
  ``pytest tests/test_other.py`` does not.  This repository does that (``tests/test_claims.py``).

Modelled on array-api-tests' conftest: the framework under test is chosen by an option plus an
environment variable, markers are registered with descriptions, every skip carries a reason, and
the header prints what was chosen.
"""
from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

import pytest

from equivcheck.options import csv as _csv, whole_number

DTYPES = ("float64", "float32")
#: equivcheck.runner's defaults, restated so that loading the plugin imports nothing heavy
#: (tests/test_pytest_plugin.py checks they agree).
DEFAULT_EXAMPLES, DEFAULT_SEED = 5, 0
FRAMEWORK_NAMES = "numpy, torch, tensorflow, jax, flax"
#: The test module ``--equivcheck`` adds to the run.
CLAIMS_MODULE = Path(__file__).resolve().parent / "pytest_claims.py"


def pytest_addoption(parser):
    group = parser.getgroup("equivcheck", "equivcheck: cross-framework convolution claims (off unless --equivcheck "
                                          "or the ini option equivcheck = true)")
    group.addoption("--equivcheck", action="store_true", default=False,
                    help="run the equivcheck claims (the built-in catalog and --cases) as "
                         "test_claim[<claim>-<framework>] tests; without it (or the ini option) the plugin adds "
                         "nothing to a run")
    group.addoption("--cases", action="append", default=None, metavar="DIR",
                    help="also load the claims in DIR (one @claim per .py file); repeatable; the ini option "
                         "equivcheck_cases and $EQUIVCHECK_CASES add more")
    group.addoption("--no-builtin", action="store_true", default=False,
                    help="leave out the built-in catalog: only the claims of --cases (also $EQUIVCHECK_NO_BUILTIN=1)")
    group.addoption("--frameworks", default=None, metavar="a,b",
                    help=f"comma-separated frameworks to test ({FRAMEWORK_NAMES}); "
                         "default: $EQUIVCHECK_FRAMEWORKS, else all of them (missing ones are skipped with the reason)")
    group.addoption("--claims", default=None, metavar="id,…",
                    help="comma-separated claim ids to run (default: every claim loaded)")
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
    parser.addini("equivcheck", type="bool", default=False,
                  help="equivcheck plugin on in every run (header, options); a test module doing "
                       "'from equivcheck.pytest_claims import *' runs the claims")
    parser.addini("equivcheck_cases", type="paths", default=[],
                  help="directories of your own claims (relative to this file), as --cases")


def active(config) -> bool:
    """Whether this run asked for equivcheck (``--equivcheck`` or the ini option)."""
    return bool(config.getoption("equivcheck", False) or config.getini("equivcheck"))


class Options:
    """Validated equivcheck options of a pytest session."""

    def __init__(self, config):
        from equivcheck import backends
        from equivcheck.claim import builtin_from_env, case_dirs_from_env

        def get(name):
            return config.getoption(name)

        try:
            if get("frameworks") is not None:
                self.frameworks = backends.check_names(_names(get("frameworks"), "--frameworks", "framework"),
                                                       "--frameworks")
            elif os.environ.get("EQUIVCHECK_FRAMEWORKS"):
                self.frameworks = backends.check_names(
                    _names(os.environ["EQUIVCHECK_FRAMEWORKS"], "EQUIVCHECK_FRAMEWORKS", "framework"),
                    "EQUIVCHECK_FRAMEWORKS")
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
        self.claim_ids = [] if get("claims") is None else _names(get("claims"), "--claims", "claim id")
        self.device = get("device")
        self.allow_tf32 = get("allow_tf32")
        directories, seen = [], set()
        for folder in ([Path(d) for d in get("cases") or []] + [Path(p) for p in config.getini("equivcheck_cases")]
                       + case_dirs_from_env()):
            if folder.resolve() not in seen:
                seen.add(folder.resolve())
                directories.append(folder)
        self.cases = directories
        self.builtin = not get("no_builtin") and builtin_from_env()
        if not self.builtin and not self.cases:
            raise pytest.UsageError("--no-builtin leaves no claims: give --cases DIR (or the ini option "
                                    "equivcheck_cases, or $EQUIVCHECK_CASES)")
        self._claims = None

    def claims(self) -> dict:
        """The claims of this session (loaded once); a malformed case file is a one-line usage error."""
        if self._claims is None:
            from equivcheck.claim import ClaimError, load_claims, select

            try:
                loaded = load_claims(cases=self.cases, builtin=self.builtin)
                select(loaded, self.claim_ids)  # unknown ids: the same one-line error as equivcheck run
            except ClaimError as exc:
                raise pytest.UsageError(str(exc)) from None
            self._claims = loaded
        return self._claims

    def selected(self) -> list:
        from equivcheck.claim import select

        return select(self.claims(), self.claim_ids)


def _names(text: str, origin: str, what: str) -> list[str]:
    names = _csv(text)
    if not names:
        raise pytest.UsageError(f"{origin}: no {what} named (got {text!r}); leave it out for all")
    return names


def _positive_int(raw, option: str, default: int, minimum: int) -> int:
    if raw is None:
        return default
    try:
        return whole_number(raw, minimum)
    except ValueError as exc:
        raise pytest.UsageError(f"{option}: {exc}") from None


def pytest_configure(config):
    config._equivcheck = None
    if not active(config):
        return  # a run that did not ask for equivcheck: nothing registered, imported or changed
    config.addinivalue_line("markers", "claim(id): a claim × framework case from cases/")
    config.addinivalue_line("markers", "framework(name): the framework a test exercises")
    config.addinivalue_line("markers", "meta: fault-injection tests that patch a framework and expect the suite to fail")
    # TensorFlow's C++ start-up lines (absl's "I0000 …", oneDNN notices) only when asked for
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    options = config._equivcheck = Options(config)
    # the claims are loaded now, so a malformed case file or an unknown --claims id is one line
    # (exit 4), before any collection
    options.claims()
    if config.getoption("equivcheck") and str(CLAIMS_MODULE) not in map(str, config.args):
        config.args.append(str(CLAIMS_MODULE))
    # Determinism: no hypothesis example database (it would replay old failures
    # in a different order), no deadline (first JAX compiles are slow).
    from hypothesis import settings

    settings.register_profile("equivcheck", database=None, deadline=None)
    settings.load_profile("equivcheck")


def pytest_collection_modifyitems(config, items):
    """Under ``--equivcheck`` in a project whose own module also runs the claims (``from
    equivcheck.pytest_claims import *``, as this repository's tests/test_claims.py does), keep that
    module's items and drop the copies ``--equivcheck`` added."""
    if config._equivcheck is None or not config.getoption("equivcheck"):
        return
    added = [item for item in items if Path(str(item.path)).resolve() == CLAIMS_MODULE]
    own = {item.name for item in items if item.get_closest_marker("claim") and item not in added}
    dropped = [item for item in added if item.name in own]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


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
    if config.getoption("equivcheck"):
        return True
    args = [a for a in config.args if not a.startswith("-")]
    return not args or any("test_claims" in a or os.path.isdir(a.split("::")[0]) for a in args)


def pytest_report_header(config):
    options: Options = config._equivcheck
    if options is None:
        return []
    from equivcheck import backends

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
    from equivcheck import backends

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
    if config._equivcheck is not None and hasattr(config, "workeroutput") and _wants_frameworks(config):
        config.workeroutput["equivcheck_settings"] = _settings_lines(config._equivcheck)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """In an xdist worker: register the fast exit now, last of all exit handlers (see above)."""
    if (getattr(config, "_equivcheck", None) is not None and hasattr(config, "workerinput")
            and os.environ.get("EQUIVCHECK_WORKER_FAST_EXIT", "1") != "0"):
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
    if request.config._equivcheck is None:
        pytest.fail("equivcheck is off in this run: pass --equivcheck, or set equivcheck = true in the pytest "
                    "configuration", pytrace=False)
    return request.config._equivcheck


@pytest.fixture(scope="session")
def equivcheck_claims(equivcheck_options) -> dict:
    """Every claim of this session (built-in catalog and --cases), keyed by id."""
    return equivcheck_options.claims()


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
