"""``equivcheck``: list the claims, run them through every framework, report.

Exit codes (documented in the README and in ``--help``):
  0  every verdict is the one its case file expects
  1  at least one unexpected verdict (or a claim body error)
  2  usage or configuration error (unknown framework/claim, bad option, malformed case file)

This module is the parser and the dispatch; the sub-commands' bodies are ``cli_cases`` (``list``, and
which claims a command sees), ``cli_run`` and ``cli_report``.
"""
from __future__ import annotations

import argparse
import os
import sys

from equivcheck import backends
from equivcheck.claim import ClaimError
from equivcheck.cli_cases import cmd_list
from equivcheck.cli_common import EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, UsageProblem  # noqa: F401 - the CLI's API
from equivcheck.cli_report import cmd_report
from equivcheck.cli_run import cmd_run, shard_of  # noqa: F401 - shard_of: the CLI's API
# the names tests/test_cli.py imports from here
from equivcheck.cli_run import draw_summary as _draw_summary, verdict_table as _verdict_table  # noqa: F401
from equivcheck.options import whole_number
from equivcheck.results import ResultsError
from equivcheck.runner import DEFAULT_EXAMPLES, DEFAULT_SEED

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
separated by ':') adds to --cases; EQUIVCHECK_NO_BUILTIN=1 is --no-builtin; EQUIVCHECK_OPENVINO_PRECISION=default
runs the openvino column at the CPU plugin's own precision (f32, the default, pins it). TensorFlow's C++ log
lines are off (TF_CPP_MIN_LOG_LEVEL=2) unless TF_CPP_MIN_LOG_LEVEL is set."""


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


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the option (exit code 2)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"equivcheck: error: {self.prog.split()[-1]}: {message} (see '{self.prog} --help')\n")


def _flag(command, *names: str, help: str) -> None:
    """An on/off option (``store_true``)."""
    command.add_argument(*names, action="store_true", help=help)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="equivcheck", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="{list,run,report}", parser_class=_Parser)
    commands.required = True

    listing = commands.add_parser("list", help="show every claim with its title and sources",
                                  description="Show every claim in cases/ with its title and its sources in words (seed thread, "
                                              "GitHub issue/PR, paper, documentation page, with a URL where there is one).")
    _flag(listing, "--json",
          help='print a JSON array of {"id", "title", "statement", "sources", "notes"}; each source '
               'is {"seed" (the reference), "kind", "url", "words", "quote"}; notes maps a framework '
               '("*": all) to the case\'s note on how it is checked there')
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
    _flag(run, "--allow-tf32",
          help="with --device gpu: leave TF32 on for float32 convs and matmuls; their comparisons then "
               "use TF32's unit roundoff (10 mantissa bits: a bound 2^13 times float32's), and results "
               "record compute_dtype 'tf32'")
    run.add_argument("--results", metavar="FILE",
                     help="write a run header (seed, examples, dtypes, device, TF32, shard, equivcheck commit), then "
                          "one JSON object per result (JSON Lines), flushed as each finishes; missing directories "
                          "are created, and the last line of the output names the file")
    _flag(run, "--resume",
          help="with --results: skip claim × framework × dtype already in FILE; a torn last line (a "
               "crash mid-write) is dropped first; a FILE written with another --seed, --examples, "
               "--dtypes, --device, --allow-tf32, --params or equivcheck commit is refused (exit 2)")
    _flag(run, "--force-resume",
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
    _flag(run, "--in-process",
          help="run everything in this process instead of one worker process per framework "
               "(faster to start; a crash in native code then ends the whole run)")
    _flag(run, "-q", "--quiet", help="no progress lines on stderr")
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
    _flag(report, "--allow-tf32", help="record that this environment allows TF32")
    _flag(report, "-q", "--quiet", help="no progress lines on stderr")


def _add_case_options(command) -> None:
    command.add_argument("--cases", action="append", metavar="DIR", default=None,
                         help="also load the claims in DIR (one @claim per .py file, id = file stem; see "
                              "docs/WRITING_CASES.md); repeatable; $EQUIVCHECK_CASES adds more; an id found "
                              "twice is an error naming both files")
    _flag(command, "--no-builtin",
          help="leave out the built-in catalog: only the claims of --cases (or $EQUIVCHECK_CASES)")


def main(argv=None) -> int:
    # TensorFlow's C++ start-up lines (absl's "I0000 …", oneDNN notices) only when asked for
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"list": cmd_list, "run": cmd_run, "report": cmd_report}
    from equivcheck.report.results_files import ReportInputError

    try:
        return handlers[args.command](args)
    except (UsageProblem, ClaimError, backends.UnknownFramework, ResultsError, ReportInputError) as exc:
        print(f"equivcheck: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
