"""The architecture redesign's cost: the same claim tests before and after it (issue #12's 5 % rule).

    python benchmarks/redesign_time.py                       # BASE = 581292c, the last commit before it
    python benchmarks/redesign_time.py --base 581292c --rounds 2

The suite itself grew after the redesign (17 claims, four engines, their unit tests), so its time says
nothing about the redesign.  What does: the work both commits can do, the 29 seed claims of the base
commit on the five engines it had (numpy, torch, tensorflow, jax, flax), both dtypes, the default draws,
run with the README's pytest options from a checkout of each commit in the same virtualenv, JAX's
compilation cache on and empty each time (a user's first run).  Rounds alternate base and head, so a
machine whose load drifts affects both alike; the figure is each commit's fastest round, in wall time and
in the summed durations of its tests (pytest --durations=0; that sum does not depend on which worker pays a
framework's import or first compile), and in CPU time (user + system of pytest and its workers: what the
code costs, whatever else the host runs).
Prints one JSON object and a Markdown line.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = "581292c"
FRAMEWORKS = "numpy,torch,tensorflow,jax,flax"


def _git(*args, cwd=ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _claims_at(commit: str) -> list[str]:
    names = _git("ls-tree", "--name-only", f"{commit}:cases").split()
    return sorted(n[:-3] for n in names if n.endswith(".py") and not n.startswith("_"))


def _run(checkout: Path, claims: list[str], work: Path, label: str) -> dict:
    cache = Path(tempfile.mkdtemp(prefix=f"jax-{label}-", dir=work))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JAX_COMPILATION_CACHE_DIR")}
    env.update(EQUIVCHECK_JAX_CACHE=str(cache), HYPOTHESIS_DATABASE="none", PYTHONPATH=str(checkout))
    argv = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "worksteal", "-q", "-p", "no:cacheprovider",
            "tests/test_claims.py", "--frameworks", FRAMEWORKS, "--claims", ",".join(claims), "--durations=0"]
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=checkout, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # pytest and its xdist workers, all waited for
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    tail = proc.stdout.strip().splitlines()[-1:] or [""]
    # the summed durations of every test phase: less sensitive than the wall time to which of the two
    # workers pays a framework's import or a first compile
    phases = re.finditer(r"^\s*([\d.]+)s (?:call|setup|teardown) ", proc.stdout, re.M)
    summed = sum(float(m.group(1)) for m in phases)
    return {"commit": label, "wall_s": round(wall, 1), "tests_s": round(summed, 1), "cpu_s": round(cpu, 1),
            "exit": proc.returncode, "summary": tail[0], "load_before": load}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=BASE, help=f"the commit before the redesign (default {BASE})")
    parser.add_argument("--head", default="HEAD")
    parser.add_argument("--rounds", type=int, default=2, help="alternating base/head rounds (default 2)")
    args = parser.parse_args(argv)
    claims = _claims_at(args.base)
    commits = {"base": _git("rev-parse", "--short", args.base), "head": _git("rev-parse", "--short", args.head)}
    runs = []
    with tempfile.TemporaryDirectory(prefix="equivcheck-redesign-") as tmp:
        work = Path(tmp)
        checkouts = {}
        for name, commit in commits.items():
            checkouts[name] = work / name
            _git("worktree", "add", "--detach", str(checkouts[name]), commit)
        try:
            for round_ in range(args.rounds):
                for name in (("base", "head") if round_ % 2 == 0 else ("head", "base")):
                    runs.append(_run(checkouts[name], claims, work, name))
                    print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
        finally:
            for path in checkouts.values():
                _git("worktree", "remove", "--force", str(path))
    def fastest(measure):
        return {name: min(r[measure] for r in runs if r["commit"] == name) for name in ("base", "head")}

    best, tests, cpu = fastest("wall_s"), fastest("tests_s"), fastest("cpu_s")
    ratio = best["head"] / best["base"]
    print(json.dumps({"base": commits["base"], "head": commits["head"],
                      "claims": len(claims), "frameworks": FRAMEWORKS, "runs": runs, "best_s": best,
                      "best_tests_s": tests, "head_over_base": round(ratio, 3),
                      "tests_head_over_base": round(tests["head"] / tests["base"], 3), "best_cpu_s": cpu,
                      "cpu_head_over_base": round(cpu["head"] / cpu["base"], 3)}))
    print(f"| seed claims × {FRAMEWORKS} | base {best['base']:.0f} s | head {best['head']:.0f} s | "
          f"{ratio:.2f}× ({'within' if ratio <= 1.05 else 'beyond'} 5 %) | summed test time "
          f"{tests['base']:.0f} s → {tests['head']:.0f} s ({tests['head'] / tests['base']:.2f}×) | CPU time "
          f"{cpu['base']:.0f} s → {cpu['head']:.0f} s ({cpu['head'] / cpu['base']:.2f}×) |")
    return 0 if all(r["exit"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
