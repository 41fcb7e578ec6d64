"""Soak: every claim × framework with many random examples; counts false alarms (must be 0).

    python scripts/soak.py --examples 500 --results results/soak.jsonl

Runs ``equivcheck run`` (one worker process per framework, ``--jobs 2``) on
correct, unpatched frameworks and then reads the results file: a false alarm is
any verdict other than the one the case file expects.  It also prints the
tolerance audit: the largest error/bound ratio per claim × framework (a ratio
near 1 would mean the bound is about to cry wolf), and the examples that did
not run inside claims that otherwise ran (e.g. those a known framework crash,
equivcheck/known_issues/, guards against).  Pass ``--resume`` to
continue an interrupted soak: ``equivcheck run`` refuses (exit 2, and so does
this script) a results file written with another seed, example count, dtypes, shard or
equivcheck commit; ``--force-resume`` mixes them anyway.

A big soak spreads over machines with ``--shard K/N`` (passed on to ``equivcheck run``): each of N
jobs runs a disjoint, deterministic part of the claim × framework × dtype work with the same seed,
and the N results files together equal the unsharded run; ``equivcheck report --results
'results/*.jsonl'`` merges them (docs/PERFORMANCE.md shows a CI matrix doing it).

    python scripts/soak.py --examples 2000 --shard 3/8 --results results/soak-3.jsonl
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections import defaultdict

from equivcheck.results import read


#: The example-specific tail of a reason, e.g. LiteRT's "(… TF Select ops; inputs [((1, 2, 2, 3), 'float32')])".
_EXAMPLE_INPUTS = re.compile(r"; inputs \[.*\]\)$")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=500, help="random draws per claim × framework × dtype (default 500)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--frameworks", default=None, help="default: all installed")
    parser.add_argument("--claims", default=None)
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--results", default=None,
                        help="results file (default results/soak.jsonl, or results/soak-K-of-N.jsonl with --shard)")
    parser.add_argument("--shard", default=None, metavar="K/N",
                        help="run only the K-th of N parts of the work (see 'equivcheck run --help')")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted soak (refused if the file was written with other settings)")
    parser.add_argument("--force-resume", action="store_true",
                        help="--resume even a file written with another seed, example count, dtypes or commit")
    args = parser.parse_args(argv)
    if args.results is None:
        args.results = ("results/soak.jsonl" if args.shard is None
                        else f"results/soak-{args.shard.replace('/', '-of-')}.jsonl")

    command = [sys.executable, "-m", "equivcheck.cli", "run", "--examples", str(args.examples), "--seed", str(args.seed),
               "--dtypes", args.dtypes, "--jobs", str(args.jobs), "--results", args.results, "-q"]
    for option in ("frameworks", "claims", "shard"):
        if getattr(args, option):
            command += [f"--{option}", getattr(args, option)]
    if args.force_resume:
        command.append("--force-resume")
    elif args.resume:
        command.append("--resume")
    started = time.perf_counter()
    run = subprocess.run(command, check=False)
    elapsed = time.perf_counter() - started
    if run.returncode == 2:  # a usage error (e.g. a refused resume): equivcheck said why on stderr
        return 2

    results = read(args.results)
    alarms = [r for r in results if not r.as_expected]
    examples = sum(r.examples_run for r in results)
    draws_asked = sum(getattr(r, "draws_asked", r.examples) for r in results)
    draws_run = sum(getattr(r, "draws_run", r.examples) for r in results)
    worst = defaultdict(float)
    for result in results:
        # A refutation's ratio measures the refutation, not the tolerance: audit holding results only.
        if result.ratio is not None and result.verdict == "holds":
            key = (result.claim, result.framework)
            worst[key] = max(worst[key], result.ratio)
    part = f" (shard {args.shard})" if args.shard else ""
    print(f"\nsoak{part}: {len(results)} claim × framework × dtype results, {examples} examples in {elapsed:.0f}s, "
          f"seed {args.seed}, {draws_run} of {draws_asked} draws asked ran ({args.examples} per result)")
    print("largest error/bound ratio per claim × framework among holding results (tolerance audit):")
    for (claim, framework), ratio in sorted(worst.items(), key=lambda item: -item[1])[:15]:
        print(f"  {ratio:8.3f}  {claim} × {framework}")
    not_run = defaultdict(int)
    for result in results:
        for entry in result.skipped:
            # one line per reason, not per example: an engine's sentence may end with the example's inputs
            reason = _EXAMPLE_INPUTS.sub(")", entry["reason"])
            not_run[(result.claim, result.framework, reason)] += entry["count"]
    print(f"examples not run (n/a inside a claim that otherwise ran; not alarms): {sum(not_run.values())}")
    for (claim, framework, reason), count in sorted(not_run.items()):
        print(f"  {count:5d}  {claim} × {framework}: {reason}")
    print(f"false alarms: {len(alarms)}")
    for result in alarms:
        print(f"  {result.claim} × {result.framework} ({result.dtype}): {result.verdict}, expected {result.expected}")
    return 1 if alarms else 0


if __name__ == "__main__":
    sys.exit(main())
