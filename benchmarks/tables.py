"""The Markdown tables and the "why" lines of ``benchmarks/run.py``, built from its results and figures."""
from __future__ import annotations

from collections import defaultdict

#: Shared with run.py: the workers of the README's test command, the targets of the issue.
WORKERS = 2
TARGETS = {"suite_over_floor": 1.5, "oracle_over_torch64": 1.0, "onnx_over_oracle": 5.0, "cache_speedup": 2.0}
FRAMEWORKS = ("numpy", "torch", "tensorflow", "jax", "flax")


def _s(value) -> str:
    return "—" if value is None else f"{value:.1f}"


def _ms(entry) -> str:
    return "—" if entry is None else f"{entry:.3f}"


def render(results: dict, fig: dict, meta: dict) -> str:
    lines = [f"# equivcheck benchmarks ({meta['date']})", "",
             f"{meta['cpu']} · {meta['cores']} cores · Python {meta['python']} · commit {meta['commit']}"
             f"{' (dirty)' if meta['dirty'] else ''} · load average at start {meta['load_start']:.1f}, "
             f"at end {meta['load_end']:.1f}", ""]
    lines += _render_floor(results, fig)
    lines += _render_cache(results, fig)
    lines += _render_claims(results)
    lines += _render_oracle(results)
    lines += _render_targets(results, fig)
    return "\n".join(lines) + "\n"


def _render_floor(results, fig) -> list[str]:
    if "suite_s" not in fig and "floor_import_s" not in fig:
        return []
    out = ["## Floor and suite (wall seconds, this run)", "",
           "| measure | wall s | CPU s | load avg | ratio to floor |", "|---|---:|---:|---:|---:|"]
    floors = [r for r in results.get("floor_runs", []) if r.get("detail")]
    for i, run in enumerate(floors, 1):
        out.append(f"| floor: import every framework + one conv each (run {i}) | {_s(run['wall_s'])} | "
                   f"{_s(run['cpu_s'])} | {run['load_before']:.1f} | |")
    if "floor_compile_s" in fig:
        census = results["suite"]["census"]
        out.append(f"| floor: first trace + lower + compile of each distinct jitted XLA program "
                   f"({census['distinct_jitted']} programs, timed inside the suite run: "
                   f"{census['distinct_jitted_s']:.1f} s ÷ {WORKERS} workers) | {_s(fig['floor_jax_compile_s'])} | | | |")
        engines = results["suite"].get("engine_census") or {}
        if engines.get("distinct"):
            kinds = ", ".join(f"{kind} {row['distinct']} ({row['distinct_s']:.1f} s)"
                              for kind, row in engines["per_kind"].items())
            out.append(f"| floor: first build of each distinct deployment-engine program ({kinds}; timed inside "
                       f"the suite run, export cache empty: {engines['distinct_s']:.1f} s ÷ {WORKERS} workers) | "
                       f"{_s(fig['floor_engine_build_s'])} | | | |")
    if "floor_s" in fig:
        out.append(f"| **floor** (best import run + those compiles and builds) | **{_s(fig['floor_s'])}** | | | 1.00 |")
        out.append(f"| floor counting also the {census['distinct'] - census['distinct_jitted']} programs compiled "
                   f"for eager op-by-op calls | {_s(fig['floor_with_eager_s'])} | | | "
                   f"{fig['floor_with_eager_s'] / fig['floor_s']:.2f} |")
    for key, label in (("suite", "default suite `python -m pytest -n 2 --dist worksteal` (the README's)"),
                       ("load", "lever: xdist's default schedule, `python -m pytest -n 2`"),
                       ("claims", "claims only `python -m pytest -n 2 --dist worksteal tests/test_claims.py`")):
        run = results.get(key)
        if run:
            ratio = run["wall_s"] / fig["floor_s"] if "floor_s" in fig else None
            out.append(f"| {label} ({_outcomes(run['tests'])}) | {_s(run['wall_s'])} | {_s(run['cpu_s'])} | "
                       f"{run['load_before']:.1f} | {'—' if ratio is None else f'{ratio:.2f}'} |")
    out.append("")
    suite = results.get("suite")
    if suite:
        census = suite["census"]
        out += [f"JAX in the suite: {census['compiles']} backend compiles ({census['compile_s']:.1f} s) of "
                f"{census['distinct']} distinct programs; {census['compile_s'] - census['distinct_compile_s']:.1f} s "
                f"recompiled a program the other worker or an earlier adapter had already compiled; "
                f"{census['eager_compiles']} compiles ({census['eager_compile_s']:.1f} s) were for eager op-by-op "
                f"calls outside any jit; tracing took {census['trace_s']:.1f} s, lowering "
                f"{census['lower_s']:.1f} s (all summed over processes).", ""]
        out += ["Where the suite's time goes (sum of test durations per file, both workers):", "",
                "| file | tests | seconds |", "|---|---:|---:|"]
        per_file: dict = defaultdict(lambda: [0, 0.0])
        for test in suite["tests"]:
            per_file[test["file"]][0] += 1
            per_file[test["file"]][1] += test["seconds"]
        for file, (count, seconds) in sorted(per_file.items(), key=lambda kv: -kv[1][1]):
            out.append(f"| {file} | {count} | {seconds:.1f} |")
        out += _render_timeline(suite, "the default suite run")
        if results.get("load"):
            out += _render_timeline(results["load"], "the `load`-schedule run")
        out += ["", "Slowest tests:", "", "| test | seconds |", "|---|---:|"]
        for test in sorted(suite["tests"], key=lambda t: -t["seconds"])[:12]:
            out.append(f"| {test['file']}::{test['name']} | {test['seconds']:.1f} |")
        out.append("")
    return out


def _render_timeline(run: dict, title: str) -> list[str]:
    """Per process: when it started, configured, ran its first and last test, and exited (s after launch)."""
    rows = [t for t in run["census"].get("timeline", []) if t.get("configured")]
    if not rows:
        return []
    launch = run["started_epoch"]

    def at(value):
        return "—" if value is None else f"{value - launch:.1f}"
    out = ["", f"Timeline of {title} (seconds after launch; busy = sum of its test durations):", "",
           "| process | started | pytest configured | first test | last test ended | exited | busy |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for t in sorted(rows, key=lambda t: t["worker"]):
        out.append(f"| {t['worker']} | {at(t.get('process_start'))} | {at(t['configured'])} | {at(t['first_test'])} | "
                   f"{at(t['last_test'])} | {at(t['unconfigured'])} | {t['tests_s']:.1f} |")
    out.append(f"| (run) | | | | | {run['wall_s']:.1f} | |")
    return out


def _outcomes(tests: list[dict]) -> str:
    counts: dict = defaultdict(int)
    for test in tests:
        counts[test["outcome"]] += 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no JUnit report"


def _render_cache(results, fig) -> list[str]:
    cache = results.get("cache")
    if not cache:
        return []
    out = ["## JAX compilation cache: jax and flax claims (`-n 2 tests/test_claims.py --frameworks jax,flax`)", "",
           "| run | wall s | CPU s | compiles (cache hits) | compile or cache-read s | trace + lower s | load avg |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for name, label in (("off", "cache off"), ("cold", "cache on, empty directory"), ("warm", "cache on, second run")):
        run, census = cache[name], cache[name]["census"]
        out.append(f"| {label} ({_outcomes(run['tests'])}) | {_s(run['wall_s'])} | {_s(run['cpu_s'])} | "
                   f"{census['compiles']} ({census['cache_hits']}) | {census['compile_s']:.1f} | "
                   f"{census['trace_s'] + census['lower_s']:.1f} | {run['load_before']:.1f} |")
    out += ["", f"Cache entries written: {cache['entries']}. Speed-up of the warm run: "
            f"{fig['cache_speedup']:.2f}× over cache off, {fig['cache_speedup_vs_cold']:.2f}× over the cold run "
            "(a warm hit still traces and lowers each program; only the XLA compile is skipped).", ""]
    return out


def _render_claims(results) -> list[str]:
    run = results.get("claims") or results.get("suite")
    if not run:
        return []
    grid: dict = defaultdict(dict)
    for test in run["tests"]:
        if test["file"].endswith("test_claims") and test["name"].startswith("test_claim["):
            claim, framework = test["name"][len("test_claim["):-1].rsplit("-", 1)
            grid[claim][framework] = (test["seconds"], test["outcome"])
    if not grid:
        return []
    out = ["## Seconds per claim × framework (both dtypes; f = failed, s = skipped)", "",
           "| claim | " + " | ".join(FRAMEWORKS) + " | total |", "|---|" + "---:|" * (len(FRAMEWORKS) + 1)]
    marks = {"failed": " f", "error": " f", "skipped": " s", "passed": ""}
    rows = sorted(grid.items(), key=lambda kv: -sum(v[0] for v in kv[1].values()))
    totals: dict = defaultdict(float)
    for claim, cells in rows:
        row = []
        for framework in FRAMEWORKS:
            seconds, outcome = cells.get(framework, (None, "passed"))
            totals[framework] += seconds or 0
            row.append("—" if seconds is None else f"{seconds:.1f}{marks[outcome]}")
        out.append(f"| {claim} | " + " | ".join(row) + f" | {sum(v[0] for v in cells.values()):.1f} |")
    out.append("| **total** | " + " | ".join(f"**{totals[f]:.1f}**" for f in FRAMEWORKS)
               + f" | **{sum(totals.values()):.1f}** |")
    return out + [""]


def _render_oracle(results) -> list[str]:
    out = []
    for key, title, unit in (("oracle_1", "1 thread, CPU ms per conv (best of repeats)", "cpu_ms"),
                             ("oracle_2", "2 threads, wall ms per conv (best of repeats)", "wall_ms")):
        report = (results.get(key) or {}).get("report")
        if not report:
            continue
        out += [f"## Oracle throughput — {title}", "",
                "| conv (3×3, pad 1) | GFLOP | oracle f64 | torch f64 | torch f32 | onnx.reference f64 | "
                "NumPy GEMM alone | oracle ÷ torch f64 | onnx.reference ÷ oracle | onnx.reference ÷ GEMM | "
                "oracle GFLOP/s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row in report["throughput"]:
            oracle_ms, torch_ms, gemm_ms = (row[k][unit] for k in ("oracle_f64", "torch_f64", "numpy_gemm_f64"))
            onnx_ms = row.get("onnx_reference_f64", {}).get(unit)
            out.append(f"| {row['conv']} | {row['gflop']:.4f} | {_ms(oracle_ms)} | {_ms(torch_ms)} | "
                       f"{_ms(row['torch_f32'][unit])} | {_ms(onnx_ms)} | {_ms(gemm_ms)} | "
                       f"{oracle_ms / torch_ms:.2f} | {'—' if onnx_ms is None else f'{onnx_ms / oracle_ms:.1f}'} | "
                       f"{'—' if onnx_ms is None else f'{onnx_ms / gemm_ms:.1f}'} | "
                       f"{row['gflop'] / oracle_ms * 1e3:.1f} |")
        out.append("")
        if report.get("memory"):
            out += ["## Oracle peak memory (tracemalloc, 8×64×64²→64, 3×3, pad 1)", "",
                    "| stride | budget | peak extra MiB | bound: budget + padded input MiB | full im2col MiB | s |",
                    "|---|---|---:|---:|---:|---:|"]
            mib = 2**20
            for row in report["memory"]:
                bound = "—" if row["budget"] == "unlimited" else \
                    f"{(row['budget_bytes'] + row['padded_input_bytes']) / mib:.1f}"
                out.append(f"| {row['conv'].rsplit(' ', 1)[-1]} | {row['budget']} | {row['extra_bytes'] / mib:.1f} | "
                           f"{bound} | {row['full_im2col_bytes'] / mib:.1f} | {row['seconds']:.2f} |")
            out += ["", "Peak extra = NumPy allocations during the call above those before it, minus the output. "
                    "The padded copy of the input is made once per call; every other temporary is per chunk.", ""]
    return out


def _render_targets(results, fig) -> list[str]:
    out = ["## Targets", "", "| target | measured | verdict |", "|---|---:|---|"]

    def verdict(value, limit, smaller_is_better=True):
        if value is None:
            return "not measured"
        met = value <= limit if smaller_is_better else value >= limit
        if met:
            return "met"
        excess = value / limit if smaller_is_better else limit / value
        return f"**missed** by {excess:.2f}×"

    rows = [("default suite ≤ 1.5× floor", fig.get("suite_over_floor"), TARGETS["suite_over_floor"], True, "×"),
            ("oracle ≤ 1.0× torch f64 at 1×64×64²→64 (1 thread, CPU)", fig.get("oracle_over_torch64"),
             TARGETS["oracle_over_torch64"], True, "×"),
            ("oracle ≥ 5× faster than onnx.reference at 1×64×64²→64", fig.get("onnx_over_oracle"),
             TARGETS["onnx_over_oracle"], False, "×"),
            ("warm JAX cache run ≥ 2× faster than a cold (cache off) run", fig.get("cache_speedup"),
             TARGETS["cache_speedup"], False, "×")]
    for label, value, limit, smaller, unit in rows:
        out.append(f"| {label} | {'—' if value is None else f'{value:.2f}{unit}'} | {verdict(value, limit, smaller)} |")
    if "load_over_floor" in fig:
        out.append(f"| (lever, no target) suite with xdist's default `load` schedule ÷ floor | "
                   f"{fig['load_over_floor']:.2f}× | {verdict(fig['load_over_floor'], TARGETS['suite_over_floor'])} "
                   "if it were the default |")
    if "suite_over_import" in fig:
        out.append(f"| (no target) default suite ÷ importing the frameworks alone | "
                   f"{fig['suite_over_import']:.1f}× | — |")
    if "memory_bounded" in fig:
        out.append(f"| oracle peak extra memory ≤ budget + padded input | "
                   f"{'yes' if fig['memory_bounded'] else 'no'} | {'met' if fig['memory_bounded'] else '**missed**'} |")
    out.append("")
    why = _why(results, fig)
    if why:
        out += ["Why (from this run's numbers):", ""] + [f"- {line}" for line in why] + [""]
    return out


def _why(results, fig) -> list[str]:
    """One sentence per missed target, built from the measurements."""
    lines = []
    suite = results.get("suite")
    if suite and fig.get("suite_over_floor", 0) > TARGETS["suite_over_floor"]:
        tests = suite["tests"]
        total = sum(t["seconds"] for t in tests)
        claims = sum(t["seconds"] for t in tests if t["file"].endswith("test_claims"))
        jaxish = sum(t["seconds"] for t in tests if t["file"].endswith("test_claims")
                     and (t["name"].endswith("-jax]") or t["name"].endswith("-flax]")))
        census = suite["census"]
        lines.append(
            f"suite {fig['suite_s']:.0f} s vs floor {fig['floor_s']:.0f} s ({fig['suite_over_floor']:.2f}×, "
            f"target 1.5×): the tests themselves take {total:.0f} s of worker time ({total / 2:.0f} s on 2 workers), "
            f"{claims:.0f} s of it in claim tests ({jaxish:.0f} s jax+flax). JAX compiled {census['compiles']} "
            f"programs in {census['compile_s']:.0f} s, {census['eager_compile_s']:.0f} s of it for eager op-by-op "
            f"calls and {census['compile_s'] - census['distinct_compile_s']:.0f} s for programs compiled before "
            "(by the other worker, or by a fresh adapter in the same one). The floor itself is "
            f"{fig['floor_import_s']:.0f} s of imports and {fig['floor_compile_s']:.0f} s of first compiles of "
            f"{census['distinct_jitted']} distinct programs: nearly every example has shapes of its own.")
        workers = [t for t in census.get("timeline", []) if t["worker"] != "main" and t.get("last_test")]
        if len(workers) > 1:
            ends = sorted(t["last_test"] for t in workers)
            lines.append(f"scheduling: one worker ran its last test {ends[-1] - ends[0]:.0f} s after the other had "
                         "finished and sat idle"
                         + (f"; with xdist's default `load` schedule the suite took {fig['load_s']:.0f} s."
                            if "load_s" in fig else "."))
        load = suite["load_before"]
        if load > 2.5:
            lines.append(f"the machine was shared: load average {load:.1f} on 2 cores when the suite started, so "
                         "every wall time here is stretched; the ratios compare runs taken minutes apart.")
    if fig.get("oracle_over_torch64", 0) > TARGETS["oracle_over_torch64"]:
        lines.append(f"oracle {fig['oracle_over_torch64']:.2f}× torch f64 at 1×64×64²→64: NumPy's GEMM of that conv's "
                     f"size alone takes {fig['gemm_over_torch64']:.2f}× torch's whole conv (OpenBLAS vs the BLAS "
                     "torch links); the rest is the oracle's padding copy, its k[-1] shifted copies and the "
                     "shifted sums.")
    if fig.get("onnx_over_oracle", 99) < TARGETS["onnx_over_oracle"]:
        limit = ("so no GEMM-based float64 oracle can be 5× faster than it on this shape"
                 if fig["onnx_over_gemm"] < TARGETS["onnx_over_oracle"] else
                 "so 5× leaves the oracle almost nothing beyond the bare GEMM")
        lines.append(f"onnx.reference ÷ oracle {fig['onnx_over_oracle']:.1f}× (target 5×): this onnx.reference is "
                     "itself im2col + one NumPy GEMM (not the loop nest it once was), and it takes only "
                     f"{fig['onnx_over_gemm']:.1f}× the bare GEMM, {limit}.")
    if fig.get("cache_speedup", 99) < TARGETS["cache_speedup"]:
        warm = results["cache"]["warm"]["census"]
        off = results["cache"]["off"]["census"]
        lines.append(f"warm cache {fig['cache_speedup']:.2f}× (target 2×): the cache removes XLA compiles only "
                     f"({off['compile_s']:.0f} s → {warm['compile_s']:.0f} s of compile calls), while tracing "
                     f"({warm['trace_s']:.0f} s), lowering ({warm['lower_s']:.0f} s), imports and the claims' own "
                     "work stay.")
    return lines
