"""``equivcheck run``: its settings, the work it runs (sharded, resumed), the verdict table and footer."""
from __future__ import annotations

import json
import os
import sys
import time
import zlib
from pathlib import Path

from equivcheck import backends
from equivcheck.claim import select
from equivcheck.cli_cases import cases_for_workers, load
from equivcheck.cli_common import EXIT_OK, EXIT_UNEXPECTED, UsageProblem, names
from equivcheck.options import csv as _csv


def shard_of(items, shard: tuple[int, int] | None) -> list:
    """The part of ``items`` (claim id, framework, dtype) that shard ``(K, N)`` runs: the items in a fixed
    pseudo-random order (CRC-32 of their names, the same on every machine and Python), dealt out
    round-robin, so the N parts are disjoint, cover every item, differ in size by at most one and mix
    slow and fast frameworks.

    >>> items = [(c, "numpy", "float32") for c in "abcde"]
    >>> sorted(shard_of(items, (1, 2)) + shard_of(items, (2, 2))) == items
    True
    """
    if shard is None:
        return list(items)
    k, n = shard
    order = sorted(items, key=lambda item: (zlib.crc32("/".join(item).encode()), item))
    chosen = set(order[k - 1::n])
    return [item for item in items if item in chosen]


def _frameworks(args) -> tuple[str, ...]:
    hint = f"choose from {', '.join(backends.FRAMEWORKS)}, or leave it out for all"
    if args.frameworks is not None:
        return backends.check_names(names(args.frameworks, "--frameworks", "framework", hint), "--frameworks")
    if os.environ.get("EQUIVCHECK_FRAMEWORKS") is not None and os.environ["EQUIVCHECK_FRAMEWORKS"] != "":
        return backends.check_names(names(os.environ["EQUIVCHECK_FRAMEWORKS"], "EQUIVCHECK_FRAMEWORKS", "framework",
                                          hint), "EQUIVCHECK_FRAMEWORKS")
    return backends.FRAMEWORKS


def _run_settings(args):
    """Validated (frameworks, claims, dtypes, params) of ``equivcheck run``."""
    frameworks = _frameworks(args)
    ids = None if args.claims is None else names(args.claims, "--claims", "claim id",
                                                 "see 'equivcheck list', or leave it out for all")
    claims = select(load(args), ids)
    dtypes = _csv(args.dtypes)
    bad = [d for d in dtypes if d not in ("float32", "float64")]
    if bad or not dtypes:
        raise UsageProblem(f"--dtypes: unknown dtype {bad[0] if bad else '(none)'!r}; choose from float64, float32")
    params = None
    if args.params is not None:
        try:
            params = json.loads(args.params)
        except json.JSONDecodeError as exc:
            raise UsageProblem(f"--params: not valid JSON ({exc})") from None
        if not isinstance(params, dict):
            raise UsageProblem("--params: must be a JSON object of parameter names to values")
        # the runner carries an example's input values inside its params
        if args.values is not None:
            params["_values"] = args.values
        if args.value_seed is not None:
            params["_value_seed"] = args.value_seed
    elif args.values is not None or args.value_seed is not None:
        option = "--values" if args.values is not None else "--value-seed"
        raise UsageProblem(f"{option} sets the input values of the one example --params runs; it needs --params")
    if args.shard is not None and params is not None:
        raise UsageProblem("--shard splits the draws of many claims; --params runs one example (drop --shard)")
    if args.force_resume:
        args.resume = True
    if args.resume and not args.results:
        option = "--force-resume" if args.force_resume else "--resume"
        raise UsageProblem(f"{option} needs --results FILE (the file to resume)")
    if args.allow_tf32 and args.device != "gpu":
        raise UsageProblem(f"--allow-tf32: TF32 exists only on a GPU; it needs --device gpu (got --device {args.device})")
    return frameworks, claims, dtypes, params


def _checked(result):
    """(examples that made a statement check, examples run) of a result, or None before the runner
    records ``examples_checked``."""
    checked = getattr(result, "examples_checked", None)
    return None if checked is None else (checked, result.examples_run)


def _draws(result, fixed_examples: int):
    """(draws that ran, draws asked) of a result.  Before the runner records ``draws_run`` and
    ``draws_asked``, both are inferred: every outcome past the fixed examples is a draw."""
    asked = getattr(result, "draws_asked", None)
    run = getattr(result, "draws_run", None)
    if asked is None:
        asked = result.examples
    if run is None:
        run = min(asked, max(0, result.examples_run - fixed_examples))
    return run, asked


def draw_summary(results, claims_by_id, examples: int, one_example: bool = False) -> list[str]:
    """The footer's count of the hypothesis draws that actually ran, then one line per result
    (not a crash, not n/a) that ran fewer draws than asked."""
    from equivcheck.results import is_crash

    if one_example:
        return ["one example (--params), no draws"]
    short, stopped, ran, asked = [], 0, 0, 0
    for result in results:
        if is_crash(result) or result.claim not in claims_by_id:
            continue  # a crash is listed on its own as not run
        draws_run, draws_asked = _draws(result, len(claims_by_id[result.claim].examples))
        ran, asked = ran + draws_run, asked + draws_asked
        if draws_run < draws_asked and result.verdict != "n/a":
            if getattr(result, "counterexample", None):
                stopped += 1  # a refutation needs no more draws: counted, not listed
            else:
                short.append(f"claim {result.claim} × {result.framework} {result.dtype}: {draws_run} of {draws_asked} "
                             f"draws ran")
    if ran < asked:
        head = f"{ran} of {asked} draws ran ({examples} asked per claim × framework × dtype)"
        if stopped:
            head += f"; {stopped} result{'s' if stopped != 1 else ''} stopped at {'their' if stopped != 1 else 'its'} counterexample"
    else:
        head = f"{ran} draws ran ({examples} per claim × framework × dtype)"
    return [head, *short]


def _cell(results) -> str:
    """A verdict table cell: the verdict(s), then "(k of N examples checked)" where examples ran
    that made no statement check."""
    from equivcheck.report.table import cell

    text = cell(results)
    # only a statement's verdict rests on statement checks: n/a checked nothing by definition, and
    # raises (the framework rejected the input) or error say so themselves
    counts = [c for r in results if r.verdict in ("holds", "refuted") and (c := _checked(r)) is not None]
    if any(checked < run for checked, run in counts):
        text += f" ({sum(c for c, _ in counts)} of {sum(r for _, r in counts)} examples checked)"
    return text


def verdict_table(claims, frameworks, results, unavailable) -> str:
    """The claims × frameworks table (layout of :func:`equivcheck.report.table.verdict_table`), whose
    cells say how many examples were checked when not all were."""
    by_key = {}
    for result in results:
        by_key.setdefault((result.claim, result.framework), []).append(result)
    header = ["claim", *frameworks]
    rows = [[claim.id, *("skip" if fw in unavailable else _cell(by_key.get((claim.id, fw), [])) for fw in frameworks)]
            for claim in claims]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]
    lines += [f"skip: {framework}: {reason}" for framework, reason in unavailable.items()]
    return "\n".join(lines)


def _compute_dtype(framework: str, dtype: str, args) -> str | None:
    """The precision the (cached, already loaded) adapter computed in; None if it cannot load."""
    try:
        return backends.load(framework, dtype, args.device, args.allow_tf32).compute_dtype
    except Exception:  # noqa: BLE001 - the result itself says why the adapter did not run
        return None


def cmd_run(args) -> int:
    from equivcheck.report.messages import failure_message, reproduce_command
    from equivcheck.results import ResultsFile, crash_result, run_header
    from equivcheck.runner import Result, run_claim
    from equivcheck.worker import Job, run_jobs

    frameworks, claims, dtypes, params = _run_settings(args)
    shard = None if args.shard is None else f"{args.shard[0]}/{args.shard[1]}"
    sink = created = None
    if args.results:
        header = run_header(seed=args.seed, examples=args.examples, dtypes=dtypes, device=args.device,
                            allow_tf32=args.allow_tf32, params=params, shard=shard)
        created = _missing_parent(Path(args.results))
        sink = ResultsFile.open(args.results, resume=args.resume, header=header, force=args.force_resume)
        if sink.dropped:
            preview = sink.dropped[:80].decode("utf-8", "replace")
            print(f"equivcheck: --resume: dropped the torn last line of {args.results} ({len(sink.dropped)} bytes "
                  f"cut off mid-write, starting {preview!r}); whatever it recorded runs again", file=sys.stderr)
    done = sink.finished() if sink else {}
    unavailable = {fw: reason for fw in frameworks if (reason := backends.availability(fw, import_it=args.in_process))}
    # the shard is cut from the whole selection (whatever is installed or already done), so every
    # machine of a sharded run agrees on its parts
    mine = shard_of([(c.id, fw, dt) for fw in frameworks for c in claims for dt in dtypes], args.shard)
    no_dtype = {(fw, dt): reason for fw in frameworks for dt in dtypes if (reason := backends.dtype_unavailable(fw, dt))}
    for reason in no_dtype.values():
        print(f"skipped: {reason}", file=sys.stderr)
    todo = [item for item in mine if item[1] not in unavailable and item[1:] not in no_dtype and item not in done]
    results = list(done.values())
    crashes, count, width = [], [0], len(str(len(todo)))
    started = time.perf_counter()

    def record(result: Result, compute_dtype: str | None = None) -> None:
        results.append(result)
        if sink:
            sink.write(result, allow_tf32=args.allow_tf32, compute_dtype=compute_dtype)
        count[0] += 1
        if not args.quiet:
            mark = "" if result.as_expected else f"  ! expected {result.expected}"
            checked = _checked(result)
            if checked and checked[0] < checked[1]:
                mark += f"  ({checked[0]} of {checked[1]} examples checked)"
            if result.skipped:
                mark += f"  ({sum(s['count'] for s in result.skipped)} examples not run, listed at the end)"
            print(f"[{count[0]:>{width}}/{len(todo)}] {result.claim} × {result.framework} {result.dtype}: "
                  f"{result.verdict}{mark} ({result.duration_s:.2f}s)", file=sys.stderr, flush=True)

    def on_event(kind, payload):
        if kind == "result":
            # fields the worker adds beyond the Result (its adapter's compute_dtype) go to the file only
            extra = {k: payload.pop(k) for k in list(payload) if k not in Result.__dataclass_fields__}
            record(Result(**payload), extra.get("compute_dtype"))
        elif kind == "crash":
            crashes.append(crash_result(payload, claims_by_id[payload["claim"]], args))
            record(crashes[-1])

    claims_by_id = {c.id: c for c in claims}
    if args.in_process:
        for claim_id, framework, dtype in todo:
            record(run_claim(claims_by_id[claim_id], framework, dtype=dtype, examples=args.examples, seed=args.seed,
                             device=args.device, allow_tf32=args.allow_tf32, params=params),
                   _compute_dtype(framework, dtype, args))
    else:
        jobs = [Job(fw, [(c, dt) for c, f, dt in todo if f == fw], args.examples, args.seed, args.device,
                    args.allow_tf32, params) for fw in frameworks if fw not in unavailable]
        with cases_for_workers(args):
            run_jobs([job for job in jobs if job.items], on_event, parallel=args.jobs)
    if sink:
        sink.close()
    order = {item: i for i, item in enumerate(mine)}
    results.sort(key=lambda r: order.get((r.claim, r.framework, r.dtype), len(order)))
    shown = claims if args.shard is None else [c for c in claims if any(item[0] == c.id for item in mine)]
    print(verdict_table(shown, frameworks, results, unavailable))
    part = "" if shard is None else f" (shard {shard}: {len(mine)} of {len(claims) * len(frameworks) * len(dtypes)} " \
                                    f"claim × framework × dtype)"
    print(f"\n{len(results)} results{part} in {time.perf_counter() - started:.1f}s; seed {args.seed}; "
          + "\n".join(draw_summary(results, claims_by_id, args.examples, params is not None)))
    for crash in crashes:
        print(f"did not run: {crash.claim} × {crash.framework} ({crash.dtype}): {crash.error['message']}\n"
              f"  results before it are kept; rerun with --resume")
        if crash.counterexample:
            print(f"  the example it was running: {reproduce_command(crash, claims_by_id.get(crash.claim))}")
    for result in results:
        for entry in result.skipped:
            print(f"{entry['count']} example(s) of {result.claim} × {result.framework} ({result.dtype}) did not run "
                  f"(its other examples did): {entry['reason']}")
    unexpected = [r for r in results if not r.as_expected]
    for result in unexpected:
        if result.error and result.error.get("type") == "equivcheck.WorkerCrashed":
            continue
        claim = claims_by_id.get(result.claim)
        if claim is None:  # resumed from the file, not selected this time
            print(f"\nunexpected: {result.claim} × {result.framework} ({result.dtype}): {result.verdict}, "
                  f"expected {result.expected}\n  reproduce: {reproduce_command(result)}")
        else:
            print("\n" + failure_message(claim, result))
    if args.results:
        made = f"; created {created}" if created else ""
        print(f"\nresults: {Path(args.results).resolve()} ({len(results)} results{made})")
    return EXIT_UNEXPECTED if unexpected else EXIT_OK


def _missing_parent(path: Path) -> Path | None:
    """The outermost directory of ``path`` that does not exist yet (``--results`` creates it), or None."""
    missing = None
    for parent in path.resolve().parents:
        if parent.exists():
            break
        missing = parent
    return missing
