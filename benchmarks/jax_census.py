"""pytest plugin: a census of the XLA programs a run compiles (loaded with ``-p jax_census``).

Active only when ``EQUIVCHECK_CENSUS_DIR`` is set.  Each process (the xdist
controller and every worker) writes ``<dir>/<worker>-<pid>.json`` at exit with
one record per backend compile:

- ``key``: a hash of the program text without source locations, so the same
  program compiled in two places (two workers, two jit wrappers) has one key;
- ``compile_s`` / ``compile_cpu_s``: wall and process-CPU time of the compile
  (or of the persistent-cache read, when ``hit``);
- ``prep_s``: tracing and lowering time (jax.monitoring events) since the
  previous compile in this process, i.e. what led up to this one;
- ``eager``: an op-by-op call outside any jit caused it (avoidable: inside the
  adapter's jitted function the op is part of that one program).

The first compile (with its tracing and lowering) of each distinct program
that is not eager is what no cache within a run can avoid: the second half of
the floor in ``benchmarks/run.py``.

It wraps ``jax._src.compiler.compile_or_get_cached``, a private function: if a
JAX release renames it, compiles are still timed through the public
monitoring events, each counted as distinct (an upper bound), and the file
says ``"keys": false``.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time

_STATE: dict = {"compiles": [], "event_compiles": [], "keys": False, "trace_s": 0.0, "lower_s": 0.0,
                "pending_prep_s": 0.0, "hit": False}


def _on_duration(event: str, duration: float, **kwargs) -> None:
    if event.endswith("/jaxpr_trace_duration"):
        _STATE["trace_s"] += duration
        _STATE["pending_prep_s"] += duration
    elif event.endswith("/jaxpr_to_mlir_module_duration"):
        _STATE["lower_s"] += duration
        _STATE["pending_prep_s"] += duration
    elif event.endswith("/backend_compile_duration"):
        _STATE["event_compiles"].append({"key": None, "compile_s": duration, "compile_cpu_s": None,
                                         "prep_s": 0.0, "name": str(kwargs.get("fun_name", "?")),
                                         "eager": False, "hit": False})


def _on_event(event: str, **kwargs) -> None:
    if event.endswith("/compilation_cache/cache_hits"):
        _STATE["hit"] = True


def _install() -> None:
    import jax  # noqa: F401  (the suite imports it anyway; the listeners need it loaded)
    from jax import monitoring

    monitoring.register_event_duration_secs_listener(_on_duration)
    monitoring.register_event_listener(_on_event)
    try:
        from jax._src import compiler
    except ImportError:
        return
    original = getattr(compiler, "compile_or_get_cached", None)
    if original is None:
        return

    def timed(backend, computation, *args, **kwargs):
        try:
            text = computation.operation.get_asm(enable_debug_info=False)
            name = str(computation.operation.attributes["sym_name"]).strip('"')
        except Exception:  # an API change: fall back to the monitoring events
            text, name = None, "?"
        eager = _called_from_eager_dispatch()
        prep, _STATE["pending_prep_s"], _STATE["hit"] = _STATE["pending_prep_s"], 0.0, False
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return original(backend, computation, *args, **kwargs)
        finally:
            if text is not None:
                _STATE["compiles"].append({
                    "key": hashlib.sha1(text.encode()).hexdigest(), "compile_s": time.perf_counter() - wall,
                    "compile_cpu_s": time.process_time() - cpu, "prep_s": prep, "name": name, "eager": eager,
                    "hit": _STATE["hit"]})

    compiler.compile_or_get_cached = timed
    _STATE["keys"] = True


def _called_from_eager_dispatch() -> bool:
    """True when an op-by-op call (``jnp.transpose(x)`` outside any jit) caused this compile."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "apply_primitive" and frame.f_code.co_filename.endswith("dispatch.py"):
            return True
        frame = frame.f_back
    return False


def _process_started() -> float | None:
    """Epoch time this process started (Linux /proc), or None elsewhere."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            since_boot = float(uptime.read().split()[0])
        return time.time() - (since_boot - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


_TIMES: dict = {"process_start": _process_started(), "configured": None, "first_test": None, "last_test": None,
                "tests_s": 0.0, "tests": 0}


def pytest_configure(config):
    if os.environ.get("EQUIVCHECK_CENSUS_DIR"):
        _TIMES["configured"] = time.time()
        _install()


def pytest_runtest_logstart(nodeid, location):
    if _TIMES["first_test"] is None:
        _TIMES["first_test"] = time.time()


def pytest_runtest_logfinish(nodeid, location):
    _TIMES["last_test"] = time.time()


def pytest_runtest_logreport(report):
    if os.environ.get("PYTEST_XDIST_WORKER", "main") != "main" or not hasattr(report, "node"):
        _TIMES["tests_s"] += report.duration
        _TIMES["tests"] += report.when == "call"


def pytest_unconfigure(config):
    directory = os.environ.get("EQUIVCHECK_CENSUS_DIR")
    if not directory:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    record = {"worker": worker, "pid": os.getpid(), "times": dict(_TIMES, unconfigured=time.time()),
              "keys": _STATE["keys"], "trace_s": _STATE["trace_s"],
              "lower_s": _STATE["lower_s"],
              "compiles": _STATE["compiles"] if _STATE["keys"] else _STATE["event_compiles"]}
    with open(os.path.join(directory, f"{worker}-{os.getpid()}.json"), "w") as handle:
        json.dump(record, handle)
