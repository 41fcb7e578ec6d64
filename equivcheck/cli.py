"""``equivcheck``: list the claims, run them through every framework, report.

Exit codes (documented in the README and in ``--help``):
  0  every verdict is the one its case file expects
  1  at least one unexpected verdict (or a claim body error)
  2  usage or configuration error (unknown framework/claim, bad option, malformed case file)
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import zlib
from pathlib import Path

from equivcheck import backends
from equivcheck.claim import (CASES_ENV, NO_BUILTIN_ENV, ClaimError, builtin_from_env, case_dirs_from_env,
                               load_claims, select)
from equivcheck.options import csv as _csv, whole_number
from equivcheck.results import ResultsError
from equivcheck.runner import DEFAULT_EXAMPLES, DEFAULT_SEED

EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """\
equivcheck turns claims about convolutions ("a 1x1 conv is a Linear layer",
"Keras kernels are (7,7,8,16)") into executable cases, runs each through
PyTorch, TensorFlow/Keras, JAX, Flax and a NumPy float64 oracle, and records
a verdict per framework: holds, refuted (with a minimal counterexample),
raises (with the framework's error), or n/a (with the reason)."""

EPILOG = """\
examples:
  equivcheck list
  equivcheck run                                   # every claim, every installed framework
  equivcheck run --frameworks torch,jax --claims kernel_layouts --results out.jsonl
  equivcheck run --cases my_claims --no-builtin    # only your own claims (a folder of @claim files)
  equivcheck run --resume --results out.jsonl      # skip what out.jsonl already has (its settings must match)
  equivcheck run --shard 2/4 --results results/part2.jsonl   # one of four machines' share of the work
  equivcheck report --results out.jsonl --format html -o report.html

exit codes: 0 all verdicts as expected, 1 unexpected verdicts, 2 usage/configuration error.
environment: EQUIVCHECK_FRAMEWORKS is the default for --frameworks; EQUIVCHECK_CASES (directories
separated by ':') adds to --cases; EQUIVCHECK_NO_BUILTIN=1 is --no-builtin. TensorFlow's C++ log lines
are off (TF_CPP_MIN_LOG_LEVEL=2) unless TF_CPP_MIN_LOG_LEVEL is set."""


class UsageProblem(Exception):
    """A one-line usage/configuration error (exit code 2)."""


def _whole_number(minimum: int, hint: str = ""):
    """An argparse type: a whole number >= ``minimum`` (the message names the bound)."""

    def parse(text: str) -> int:
        try:
            return whole_number(text, minimum, hint)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


_non_negative = _whole_number(0)
_positive = _whole_number(1, " (use --params to rerun one example)")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` → ``(2, 4)``: the second of four parts (``1 <= K <= N``).

    >>> parse_shard("2/4")
    (2, 4)
    """
    part, slash, total = str(text).partition("/")
    try:
        k, n = int(part), int(total)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N such as 1/4, got {text!r}") from None
    if not slash or n < 1 or not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, got {text!r}")
    return k, n


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


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the option (exit code 2)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"equivcheck: error: {self.prog.split()[-1]}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="equivcheck", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="{list,run,report}", parser_class=_Parser)
    commands.required = True

    listing = commands.add_parser("list", help="show every claim with its title and sources",
                                  description="Show every claim in cases/ with its title and its sources in words (seed thread, "
                                              "GitHub issue/PR, paper, documentation page, with a URL where there is one).")
    listing.add_argument("--json", action="store_true",
                         help='print a JSON array of {"id", "title", "statement", "sources"}; each source '
                              'is {"seed" (the reference), "kind", "url", "words", "quote"}')
    _add_case_options(listing)

    run = commands.add_parser("run", help="run claims through frameworks and print the verdict table",
                              description="Run claims through frameworks; print a claims × frameworks verdict "
                                          "table. A cell shows the verdict; '!' marks one that differs from the "
                                          "case file's expectation.",
                              formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    _add_case_options(run)
    run.add_argument("--frameworks", metavar="a,b",
                     help=f"frameworks to run, from {','.join(backends.FRAMEWORKS)} "
                          f"(default: $EQUIVCHECK_FRAMEWORKS, else all; missing ones are reported, not run)")
    run.add_argument("--claims", metavar="id,…", help="claim ids to run (default: all; see 'equivcheck list')")
    run.add_argument("--examples", type=_positive, default=DEFAULT_EXAMPLES, metavar="N",
                     help=f"hypothesis draws per claim × framework × dtype on top of the seeds' fixed examples "
                          f"(default {DEFAULT_EXAMPLES})")
    run.add_argument("--seed", type=_non_negative, default=DEFAULT_SEED, metavar="S",
                     help=f"seed of the draws and input values; same seed, same results (default {DEFAULT_SEED})")
    run.add_argument("--dtypes", default="float64,float32", metavar="a,b", help="default: float64,float32")
    run.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                     help="where frameworks compute (default cpu); on gpu TF32 is off unless --allow-tf32")
    run.add_argument("--allow-tf32", action="store_true",
                     help="with --device gpu: leave TF32 on for float32 convs and matmuls; their comparisons then "
                          "use TF32's unit roundoff (10 mantissa bits: a bound 2^13 times float32's), and results "
                          "record compute_dtype 'tf32'")
    run.add_argument("--results", metavar="FILE",
                     help="write a run header (seed, examples, dtypes, device, TF32, shard, equivcheck commit), then "
                          "one JSON object per result (JSON Lines), flushed as each finishes; missing directories "
                          "are created, and the last line of the output names the file")
    run.add_argument("--resume", action="store_true",
                     help="with --results: skip claim × framework × dtype already in FILE; a torn last line (a "
                          "crash mid-write) is dropped first; a FILE written with another --seed, --examples, "
                          "--dtypes, --device, --allow-tf32, --params or equivcheck commit is refused (exit 2)")
    run.add_argument("--force-resume", action="store_true",
                     help="--resume even a FILE written with other settings (its results are kept as they are; "
                          "this run's settings are recorded before its own results)")
    run.add_argument("--params", metavar="JSON",
                     help="run exactly one example with these parameters (as printed by a failure's reproduce "
                          "line); no draws, so --seed and --examples do not matter")
    run.add_argument("--values", choices=("normal", "int"), default=None,
                     help="with --params: the example's input values, standard normal rounded to the dtype "
                          "(default) or small integers (exact in every dtype), as a reproduce line says")
    run.add_argument("--value-seed", type=_non_negative, default=None, metavar="N",
                     help="with --params: the seed of the example's input values (default 0, the fixed "
                          "examples' seed; a drawn example's reproduce line gives its own)")
    run.add_argument("--shard", type=parse_shard, default=None, metavar="K/N",
                     help="run only the K-th of N disjoint parts of the claim × framework × dtype work (the same "
                          "part on every machine for the same --claims/--frameworks/--dtypes); the N parts' "
                          "results files together equal the unsharded run with the same --seed")
    run.add_argument("--jobs", type=_whole_number(1), default=1, metavar="N",
                     help="frameworks run side by side, each in its own worker process (default 1)")
    run.add_argument("--in-process", action="store_true",
                     help="run everything in this process instead of one worker process per framework "
                          "(faster to start; a crash in native code then ends the whole run)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    _add_report_parser(commands)
    return parser


REPORT_DESCRIPTION = """\
Write the conventions report: axis orders, 'same' padding splits, pixel-shuffle,
patch and flatten orders, argmax indices, unbatched inputs and float32 precision
defaults, probed live from the installed frameworks (each in a child process)
and shown next to what equivcheck/layouts.py says. With --results, the verdict
matrix, the tolerance audit (error/bound per claim x framework) and the facts
and errors claims recorded are added, and several files (one per environment,
e.g. results/*.jsonl from tox) merge into a cross-version report that marks
every value differing between versions of a framework."""

REPORT_EPILOG = """\
examples:
  equivcheck report                                   # Markdown of this interpreter's conventions on stdout
  equivcheck report --format md -o docs/CONVENTIONS.md
  equivcheck report --format md --check docs/CONVENTIONS.md   # CI: exit 1 when the committed copy is stale
  equivcheck report --results 'results/*.jsonl' --format html -o matrix.html
  equivcheck report --record results/latest.jsonl     # add this env's probes to its results file

probing: live unless a results file already carries probes (--probe / --no-probe force it).
exit codes: 0 written (with --check: up to date), 1 --check found the file stale, 2 usage error.
JSON schema: docs/report-schema.json."""


def _add_report_parser(commands) -> None:
    report = commands.add_parser("report", help="conventions probed live, verdict matrix; md, json or html",
                                 description=REPORT_DESCRIPTION, epilog=REPORT_EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("--results", nargs="+", metavar="FILE",
                        help="results files (JSON Lines from 'equivcheck run --results'); glob patterns and "
                             "directories are expanded; each file is one environment")
    report.add_argument("--format", choices=("md", "json", "html"), default="md", help="default md")
    report.add_argument("-o", "--output", metavar="PATH", help="write here (default: stdout)")
    report.add_argument("--check", metavar="PATH",
                        help="instead of writing, compare with PATH; exit 1 and show a diff when it is stale")
    report.add_argument("--record", metavar="FILE",
                        help="append this environment's record and live probes to FILE (a results file), "
                             "replacing earlier ones, so a merged report can compare environments")
    probing = report.add_mutually_exclusive_group()
    probing.add_argument("--probe", dest="probe", action="store_const", const=True, default=None,
                         help="probe this interpreter's frameworks even when results files carry probes")
    probing.add_argument("--no-probe", dest="probe", action="store_const", const=False,
                         help="never probe live; use only what the results files hold")
    report.add_argument("--frameworks", metavar="a,b", help="frameworks to probe (default: every installed one)")
    report.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="device recorded for the probes; on gpu the precision rows show the GPU TF32 state")
    report.add_argument("--allow-tf32", action="store_true", help="record that this environment allows TF32")
    report.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")


def _add_case_options(command) -> None:
    command.add_argument("--cases", action="append", metavar="DIR", default=None,
                         help="also load the claims in DIR (one @claim per .py file, id = file stem; see "
                              "docs/WRITING_CASES.md); repeatable; $EQUIVCHECK_CASES adds more; an id found "
                              "twice is an error naming both files")
    command.add_argument("--no-builtin", action="store_true",
                         help="leave out the built-in catalog: only the claims of --cases (or $EQUIVCHECK_CASES)")


def _case_settings(args) -> tuple[list[Path], bool]:
    """(the extra case directories, whether the built-in catalog is included) of ``list`` / ``run``."""
    directories, seen = [], set()
    for folder in [Path(d) for d in (args.cases or [])] + case_dirs_from_env():
        if not str(folder).strip():
            raise UsageProblem("--cases: the directory name is empty")
        if folder.resolve() not in seen:
            seen.add(folder.resolve())
            directories.append(folder)
    builtin = not args.no_builtin and builtin_from_env()
    if not builtin and not directories:
        raise UsageProblem("--no-builtin leaves no claims: give --cases DIR (or $EQUIVCHECK_CASES)")
    return directories, builtin


def _load(args) -> dict:
    directories, builtin = _case_settings(args)
    claims = load_claims(cases=directories, builtin=builtin)
    if not claims:
        raise UsageProblem(f"no claims in {', '.join(map(str, directories))} (a claim is a .py file with one "
                           f"@claim(...) body; see docs/WRITING_CASES.md)")
    return claims


@contextlib.contextmanager
def _cases_for_workers(args):
    """Worker processes load the claims themselves: hand them this run's case directories (absolute)
    and --no-builtin through the environment, for the duration of the run."""
    directories, builtin = _case_settings(args)
    wanted = {CASES_ENV: os.pathsep.join(str(d.resolve()) for d in directories), NO_BUILTIN_ENV: "" if builtin else "1"}
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cmd_report(args) -> int:
    from pathlib import Path

    from equivcheck.report import generate, model

    frameworks = None if args.frameworks is None else backends.check_names(
        _names(args.frameworks, "--frameworks", "framework", "leave it out to probe every installed one"),
        "--frameworks")
    if args.check and args.output:
        raise UsageProblem("--check compares with a file and writes nothing; drop -o")
    if args.record and args.probe is False:
        raise UsageProblem("--record stores live probes; it cannot be combined with --no-probe")
    progress = None if args.quiet else sys.stderr
    probe = True if args.record else args.probe
    if args.record:
        environment, rows = generate.live_environment(frameworks, args.device, args.allow_tf32,
                                                      name=Path(args.record).stem, progress=progress)
        try:
            model.record_probes(args.record, environment, rows)
        except OSError as exc:
            raise UsageProblem(f"--record: cannot write {args.record}: {exc.strerror or exc}") from None
        sources = generate.sources_from_files(args.results) if args.results else []
        if not any(s[0].get("source") and Path(s[0]["source"]).resolve() == Path(args.record).resolve()
                   for s in sources):
            sources += generate.sources_from_files([args.record])
        report = model.build([s[0] for s in sources], sources, name="merged" if args.results else "installed")
    else:
        report = generate.make_report(args.results, probe=probe, frameworks=frameworks, device=args.device,
                                      allow_tf32=args.allow_tf32, progress=progress)
    text = generate.render(report, args.format)
    if args.check:
        return EXIT_OK if generate.check(text, Path(args.check)) else EXIT_UNEXPECTED
    if args.output:
        try:
            Path(args.output).parent.mkdir(parents=True, exist_ok=True)
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageProblem(f"-o: cannot write {args.output}: {exc.strerror or exc}") from None
        if progress:
            print(f"wrote {args.output} ({args.format})", file=progress)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_list(args) -> int:
    claims = _load(args)
    if args.json:
        print(json.dumps([c.to_dict() for c in claims.values()], indent=2, ensure_ascii=False))
        return EXIT_OK
    width = max(len(i) for i in claims)
    for claim in claims.values():
        # one line per claim (its id first); each reference once, in words a reader can look up
        words = list(dict.fromkeys(s.words for s in claim.sources))
        print(f"{claim.id:<{width}}  {claim.title}  (sources: {'; '.join(words)})")
    return EXIT_OK


def _names(text: str, origin: str, what: str, hint: str) -> list[str]:
    """The comma-separated names of an option, or a usage error when it names none (``''``, ``' , '``)."""
    names = _csv(text)
    if not names:
        raise UsageProblem(f"{origin}: no {what} named (got {text!r}); {hint}")
    return names


def _frameworks(args) -> tuple[str, ...]:
    hint = f"choose from {', '.join(backends.FRAMEWORKS)}, or leave it out for all"
    if args.frameworks is not None:
        return backends.check_names(_names(args.frameworks, "--frameworks", "framework", hint), "--frameworks")
    if os.environ.get("EQUIVCHECK_FRAMEWORKS") is not None and os.environ["EQUIVCHECK_FRAMEWORKS"] != "":
        return backends.check_names(_names(os.environ["EQUIVCHECK_FRAMEWORKS"], "EQUIVCHECK_FRAMEWORKS", "framework",
                                           hint), "EQUIVCHECK_FRAMEWORKS")
    return backends.FRAMEWORKS


def _run_settings(args):
    """Validated (frameworks, claims, dtypes, params) of ``equivcheck run``."""
    frameworks = _frameworks(args)
    ids = None if args.claims is None else _names(args.claims, "--claims", "claim id",
                                                  "see 'equivcheck list', or leave it out for all")
    claims = select(_load(args), ids)
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


def _draw_summary(results, claims_by_id, examples: int, one_example: bool = False) -> list[str]:
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


def _verdict_table(claims, frameworks, results, unavailable) -> str:
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
        with _cases_for_workers(args):
            run_jobs([job for job in jobs if job.items], on_event, parallel=args.jobs)
    if sink:
        sink.close()
    order = {item: i for i, item in enumerate(mine)}
    results.sort(key=lambda r: order.get((r.claim, r.framework, r.dtype), len(order)))
    shown = claims if args.shard is None else [c for c in claims if any(item[0] == c.id for item in mine)]
    print(_verdict_table(shown, frameworks, results, unavailable))
    part = "" if shard is None else f" (shard {shard}: {len(mine)} of {len(claims) * len(frameworks) * len(dtypes)} " \
                                    f"claim × framework × dtype)"
    print(f"\n{len(results)} results{part} in {time.perf_counter() - started:.1f}s; seed {args.seed}; "
          + "\n".join(_draw_summary(results, claims_by_id, args.examples, params is not None)))
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


def main(argv=None) -> int:
    # TensorFlow's C++ start-up lines (absl's "I0000 …", oneDNN notices) only when asked for
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"list": cmd_list, "run": cmd_run, "report": cmd_report}
    from equivcheck.report.model import ReportInputError

    try:
        return handlers[args.command](args)
    except (UsageProblem, ClaimError, backends.UnknownFramework, ResultsError, ReportInputError) as exc:
        print(f"equivcheck: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
