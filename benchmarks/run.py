"""equivcheck benchmarks: the floor, the suite against it, JAX's compile cache, the oracle.

    python benchmarks/run.py                  # everything (≈ 30–60 min on 2 cores)
    python benchmarks/run.py --only oracle    # phases: floor,suite,load,claims,cache,oracle

Prints Markdown tables and writes ``benchmarks/results.json`` (``--output``).
Every figure comes from this one invocation, so the ratios compare
measurements taken minutes apart on the same machine in the same state:

- **floor** — a fresh interpreter that imports every framework through its
  adapter and runs one tiny conv in each (``benchmarks/floor.py``; best of a
  run before and a run after the suite), plus the compile time of every
  distinct XLA program the suite compiles, counted inside the suite run by
  the ``jax_census`` plugin (``benchmarks/jax_census.py``), and the first build
  of every distinct program of the deployment engines (ONNX exports, ONNX
  Runtime sessions, reference evaluators, OpenVINO compiles, LiteRT
  conversions; ``benchmarks/engine_census.py``), the ONNX export cache empty;
- **suite** — the README's test command ``python -m pytest -n 2`` and the
  claims alone (``tests/test_claims.py``), with per-test times from JUnit XML;
- **load** — the suite again with xdist's default ``load`` schedule instead of
  the README's ``--dist worksteal`` (the scheduling lever, measured);
- **cache** — the jax and flax claim tests three times: JAX's persistent
  compilation cache off, on with an empty directory, on again (warm);
- **oracle** — ``benchmarks/oracle_bench.py`` at one thread (CPU time, the
  reproducible figure on a shared machine) and two threads (wall time), plus
  tracemalloc peaks.

Speed is measured here only; the tests never time anything.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from tables import WORKERS, render

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PHASES = ("floor", "suite", "load", "claims", "cache", "oracle")
#: The README's test command (section "Quick start").
SUITE_ARGS = ["-n", str(WORKERS), "--dist", "worksteal"]


# --------------------------------------------------------------------------- running things
def _env(**extra) -> dict:
    """The environment of a measured child: repo and benchmarks importable.

    JAX's persistent compilation cache is on by default in equivcheck (in the user's
    cache directory, which earlier runs have warmed), so every child is told
    explicitly: off unless ``extra`` names a directory, which each phase makes fresh.
    """
    env = dict(os.environ)
    for name in ("JAX_COMPILATION_CACHE_DIR", "EQUIVCHECK_CENSUS_DIR", "EQUIVCHECK_ONNX_EXPORT_CACHE"):
        env.pop(name, None)
    env["EQUIVCHECK_JAX_CACHE"] = "off"
    env["PYTHONPATH"] = os.pathsep.join([str(BENCH_DIR), str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _timed(argv: list[str], env: dict, timeout: float) -> dict:
    """Run ``argv`` in the repo root; wall and CPU seconds (children), exit code, output tail, load.

    The child gets its own process group, so a timeout or Ctrl-C also stops
    the xdist workers it started.
    """
    load_before = os.getloadavg()[0]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    epoch, started = time.time(), time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        code = proc.returncode
    except BaseException as exc:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        if not isinstance(exc, subprocess.TimeoutExpired):
            raise
        code = "timeout"
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return {"argv": argv, "wall_s": wall, "cpu_s": cpu, "exit": code, "stdout": out, "stderr": err[-4000:],
            "load_before": load_before, "load_after": os.getloadavg()[0], "started_epoch": epoch}


def _pytest(args: list[str], work: Path, name: str, timeout: float, **env) -> dict:
    census = work / f"census-{name}"
    census.mkdir(parents=True, exist_ok=True)
    junit = work / f"{name}.xml"
    argv = [sys.executable, "-m", "pytest", *args, "-q", "-p", "jax_census", "-p", "engine_census",
            f"--junitxml={junit}"]
    run = _timed(argv, _env(EQUIVCHECK_CENSUS_DIR=census, **env), timeout)
    run["stdout"] = run["stdout"][-3000:]
    run["tests"] = _junit(junit)
    run["census"] = _census(census)
    run["engine_census"] = _engine_census(census / "engines")
    return run


def _engine_census(directory: Path) -> dict:
    """Merge the per-process build records of the deployment engines (see engine_census.py)."""
    from engine_census import summarise

    records = [r for file in sorted(directory.glob("*.json")) for r in json.loads(file.read_text())["records"]]
    return summarise(records)


def _junit(path: Path) -> list[dict]:
    if not path.exists():
        return []
    tests = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
        tests.append({"file": case.get("classname", ""), "name": case.get("name", ""),
                      "seconds": float(case.get("time") or 0), "outcome": outcome})
    return tests


def _census(directory: Path) -> dict:
    """Merge the per-process compile records (see jax_census.py) into totals.

    ``distinct_jitted_s``: for each distinct program not caused by an eager
    op-by-op call, its first tracing + lowering + compile, in wall seconds,
    summed over the processes that ran in parallel.
    """
    compiles, trace, lower, keyed, timeline = [], 0.0, 0.0, True, []
    files = sorted(directory.glob("*.json"))
    for file in files:
        record = json.loads(file.read_text())
        timeline.append(dict(record.get("times", {}), worker=record["worker"]))
        compiles += record["compiles"]
        trace += record["trace_s"]
        lower += record["lower_s"]
        keyed = keyed and record["keys"]
    first: dict = {}
    for index, entry in enumerate(compiles):
        key = entry["key"] if keyed else index
        # a program's real compile, not a read of the entry another worker wrote to the cache
        if key not in first or first[key]["hit"] and not entry["hit"]:
            first[key] = entry
    jitted = [e for e in first.values() if not e["eager"]]
    return {"processes": len(files), "keyed": keyed, "trace_s": trace, "lower_s": lower,
            "compiles": len(compiles), "compile_s": sum(e["compile_s"] for e in compiles),
            "cache_hits": sum(e["hit"] for e in compiles),
            "eager_compiles": sum(e["eager"] for e in compiles),
            "eager_compile_s": sum(e["compile_s"] for e in compiles if e["eager"]),
            "distinct": len(first), "distinct_compile_s": sum(e["compile_s"] for e in first.values()),
            "distinct_jitted": len(jitted),
            "distinct_jitted_s": sum(e["compile_s"] + e["prep_s"] for e in jitted),
            "distinct_s": sum(e["compile_s"] + e["prep_s"] for e in first.values()), "timeline": timeline}


def _floor_once(timeout: float) -> dict:
    run = _timed([sys.executable, str(BENCH_DIR / "floor.py")], _env(), timeout)
    lines = [line for line in run["stdout"].splitlines() if line.startswith("{")]
    run["detail"] = json.loads(lines[-1]) if lines else None
    run.pop("stdout")
    return run


def _oracle(threads: int, memory: bool, seconds: float, timeout: float) -> dict:
    count = str(threads)
    env = _env(OPENBLAS_NUM_THREADS=count, OMP_NUM_THREADS=count, MKL_NUM_THREADS=count)
    argv = [sys.executable, str(BENCH_DIR / "oracle_bench.py"), "--threads", count, "--seconds", str(seconds)]
    run = _timed(argv + (["--memory"] if memory else []), env, timeout)
    lines = [line for line in run["stdout"].splitlines() if line.startswith("{")]
    run["report"] = json.loads(lines[-1]) if lines else None
    run.pop("stdout")
    return run


# --------------------------------------------------------------------------- phases
def measure(phases: set[str], work: Path, timeout: float, oracle_seconds: float, log) -> dict:
    results: dict = {"phases": sorted(phases)}
    if "floor" in phases:
        log("floor: import every framework + one conv each (run 1 of 2)")
        results["floor_runs"] = [_floor_once(timeout)]
    # The suite runs as a user's first run does: the compilation and export caches on (the default), empty.
    if "suite" in phases:
        log("suite: python -m pytest " + " ".join(SUITE_ARGS) + " (JAX compilation cache on, cold)")
        results["suite"] = _pytest(SUITE_ARGS, work, "suite", timeout, EQUIVCHECK_JAX_CACHE=work / "cache-suite",
                                   EQUIVCHECK_ONNX_EXPORT_CACHE=work / "export-suite")
    if "load" in phases:
        # the lever, measured: xdist's default "load" schedule hands out tests in advance,
        # and a worker can sit idle while the other works through its queue
        log("load: python -m pytest -n 2 (xdist's default schedule; cache on, cold)")
        results["load"] = _pytest(["-n", str(WORKERS)], work, "load", timeout,
                                  EQUIVCHECK_JAX_CACHE=work / "cache-load")
    if "claims" in phases:
        log("claims: python -m pytest " + " ".join(SUITE_ARGS) + " tests/test_claims.py (cache on, cold)")
        results["claims"] = _pytest(SUITE_ARGS + ["tests/test_claims.py"], work, "claims", timeout,
                                    EQUIVCHECK_JAX_CACHE=work / "cache-claims")
    if "cache" in phases:
        cache_dir = work / "jax-cache"
        jax_claims = ["-n", "2", "tests/test_claims.py", "--frameworks", "jax,flax"]
        results["cache"] = {}
        for name, setting in (("off", None), ("cold", cache_dir), ("warm", cache_dir)):
            log(f"cache: jax+flax claims, compilation cache {name}")
            results["cache"][name] = _pytest(jax_claims, work, f"cache-{name}", timeout,
                                             EQUIVCHECK_JAX_CACHE=setting or "off")
        results["cache"]["entries"] = len(list(cache_dir.glob("*"))) if cache_dir.exists() else 0
    if "floor" in phases:
        log("floor: run 2 of 2")
        results["floor_runs"].append(_floor_once(timeout))
    if "oracle" in phases:
        log("oracle: 1 thread (CPU time) + memory")
        results["oracle_1"] = _oracle(1, True, oracle_seconds, timeout)
        log("oracle: 2 threads (wall time)")
        results["oracle_2"] = _oracle(2, False, oracle_seconds, timeout)
    return results


# --------------------------------------------------------------------------- figures
def figures(results: dict) -> dict:
    """The headline numbers and target verdicts derived from the raw results."""
    fig: dict = {}
    floors = [r for r in results.get("floor_runs", []) if r.get("detail")]
    if floors:
        fig["floor_import_s"] = min(r["wall_s"] for r in floors)
        fig["floor_import_runs_s"] = [r["wall_s"] for r in floors]
    suite = results.get("suite")
    if suite:
        fig["suite_s"] = suite["wall_s"]
        fig["suite_cpu_s"] = suite["cpu_s"]
        census = suite["census"]
        # The compile work is shared by the 2 workers on 2 cores: its wall share is half the sum.
        engines = suite.get("engine_census") or {"distinct_s": 0.0, "distinct": 0}
        fig["floor_jax_compile_s"] = census["distinct_jitted_s"] / WORKERS
        fig["floor_engine_build_s"] = engines["distinct_s"] / WORKERS
        fig["floor_compile_s"] = fig["floor_jax_compile_s"] + fig["floor_engine_build_s"]
        fig["distinct_programs"] = census["distinct_jitted"]
        fig["distinct_engine_programs"] = engines["distinct"]
        if "floor_import_s" in fig:
            fig["floor_s"] = fig["floor_import_s"] + fig["floor_compile_s"]
            fig["suite_over_floor"] = fig["suite_s"] / fig["floor_s"]
            fig["suite_over_import"] = fig["suite_s"] / fig["floor_import_s"]
            # counting the programs eager op-by-op calls compiled as unavoidable too
            fig["floor_with_eager_s"] = fig["floor_import_s"] + census["distinct_s"] / WORKERS \
                + fig["floor_engine_build_s"]
            fig["suite_over_floor_with_eager"] = fig["suite_s"] / fig["floor_with_eager_s"]
    if results.get("load") and "floor_s" in fig:
        fig["load_s"] = results["load"]["wall_s"]
        fig["load_over_floor"] = fig["load_s"] / fig["floor_s"]
    if results.get("claims"):
        fig["claims_s"] = results["claims"]["wall_s"]
        if "floor_s" in fig:
            fig["claims_over_floor"] = fig["claims_s"] / fig["floor_s"]
    cache = results.get("cache")
    if cache:
        fig["cache_off_s"], fig["cache_cold_s"], fig["cache_warm_s"] = (cache[k]["wall_s"] for k in ("off", "cold", "warm"))
        fig["cache_speedup"] = fig["cache_off_s"] / fig["cache_warm_s"]
        fig["cache_speedup_vs_cold"] = fig["cache_cold_s"] / fig["cache_warm_s"]
    report = (results.get("oracle_1") or {}).get("report")
    if report:
        big = next(row for row in report["throughput"] if row["conv"].startswith("1×64×64²"))
        fig["oracle_over_torch64"] = big["oracle_f64"]["cpu_ms"] / big["torch_f64"]["cpu_ms"]
        fig["gemm_over_torch64"] = big["numpy_gemm_f64"]["cpu_ms"] / big["torch_f64"]["cpu_ms"]
        if "onnx_reference_f64" in big:
            fig["onnx_over_oracle"] = big["onnx_reference_f64"]["cpu_ms"] / big["oracle_f64"]["cpu_ms"]
            fig["onnx_over_gemm"] = big["onnx_reference_f64"]["cpu_ms"] / big["numpy_gemm_f64"]["cpu_ms"]
        memory = report.get("memory", [])
        fig["memory_bounded"] = all(row["extra_bytes"] <= row["budget_bytes"] + row["padded_input_bytes"]
                                    for row in memory if row["budget"] != "unlimited")
    return fig


def _meta() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "commit": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")), "load_start": os.getloadavg()[0]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="equivcheck benchmarks (see the module docstring)")
    parser.add_argument("--only", default=",".join(PHASES), metavar="a,b",
                        help=f"phases to run (default all): {','.join(PHASES)}")
    parser.add_argument("--output", default=str(BENCH_DIR / "results.json"), help="raw results and figures (JSON)")
    parser.add_argument("--markdown", default=None, help="also write the tables to this file")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed per child process")
    parser.add_argument("--oracle-seconds", type=float, default=4.0, help="minimum timing time per oracle conv")
    args = parser.parse_args(argv)
    phases = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = phases - set(PHASES)
    if unknown:
        parser.error(f"--only: unknown phase(s) {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}")
    meta = _meta()

    def log(message):
        print(f"[{time.strftime('%H:%M:%S')}] {message} (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)

    # SIGTERM as Ctrl-C, so the running child's process group is stopped too
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="equivcheck-bench-") as work:
        results = measure(phases, Path(work), args.timeout, args.oracle_seconds, log)
    meta["load_end"] = os.getloadavg()[0]
    fig = figures(results)
    text = render(results, fig, meta)
    print(text)
    Path(args.output).write_text(json.dumps({"meta": meta, "figures": fig, "results": results}, indent=1,
                                            default=str))
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
