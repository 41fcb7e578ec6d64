"""The ``equivcheck`` command line: help, list, run's results file, report, and the exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from equivcheck.cli import EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, main
from equivcheck.results import REQUIRED_FIELDS


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "equivcheck.cli", *args], capture_output=True, text=True,
                          timeout=600)


def _exits(argv, capsys):
    """``main(argv)`` where argparse exits (help, a rejected value): (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    out = capsys.readouterr()
    return stop.value.code, out.out, out.err


def test_help_explains_the_commands_and_exit_codes(capsys):
    code, out, _ = _exits(["--help"], capsys)
    assert code == 0
    for word in ("list", "run", "report", "exit codes", "0 all verdicts as expected", "2 usage"):
        assert word in out
    _, report_help, _ = _exits(["report", "--help"], capsys)
    for word in ("--results", "--format", "--check", "--record", "docs/report-schema.json", "1 --check found"):
        assert word in report_help


def test_the_command_line_entry_point_runs():
    proc = _cli("list")
    assert proc.returncode == 0 and "one_by_one_conv_is_linear" in proc.stdout


def test_list_json_is_an_array_of_id_title_statement_sources_notes(capsys):
    assert main(["list", "--json"]) == EXIT_OK
    claims = json.loads(capsys.readouterr().out)
    assert isinstance(claims, list) and claims
    for claim in claims:
        assert set(claim) == {"id", "title", "statement", "sources", "notes"}
        assert all(set(s) == {"seed", "kind", "url", "words", "quote"} for s in claim["sources"])
        assert all(s["words"] and s["quote"] for s in claim["sources"])
    # the case file's notes per framework, as written (filter_spans_all_input_channels has one for tensorflow)
    notes = {c["id"]: c["notes"] for c in claims}
    assert "grouped convolution from the filter" in notes["filter_spans_all_input_channels"]["tensorflow"]


@pytest.mark.parametrize("argv", [
    ["run", "--frameworks", "numpy,nope"],
    ["run", "--claims", "no_such_claim"],
    ["report", "--results", "does/not/exist.jsonl"],
    ["report", "--no-probe", "--results", "nothing-matches-*.jsonl"],
    ["report", "--frameworks", "nope"],
    ["report", "--check", "a.md", "-o", "b.md"],
    ["report", "--record", "x.jsonl", "--no-probe"],
    ["run", "--force-resume"],
    ["run", "--allow-tf32", "--frameworks", "numpy"],
])
def test_usage_errors_exit_2_with_one_line(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("equivcheck: error: ") and err.count("\n") == 1


def test_argparse_rejects_an_unknown_format_with_exit_2(capsys):
    code, _, err = _exits(["report", "--format", "pdf"], capsys)
    assert code == 2 and "invalid choice" in err


@pytest.fixture(scope="module")
def numpy_results(tmp_path_factory):
    """One real run of one claim on the oracle column, written as JSON Lines."""
    path = tmp_path_factory.mktemp("run") / "numpy.jsonl"
    proc = _cli("run", "--frameworks", "numpy", "--claims", "one_by_one_conv_is_linear", "--examples", "1",
                "--results", str(path))
    assert proc.returncode == EXIT_OK, proc.stdout + proc.stderr
    return path, proc


def test_run_prints_a_verdict_table_and_writes_json_lines(numpy_results):
    path, proc = numpy_results
    assert "one_by_one_conv_is_linear" in proc.stdout and "holds" in proc.stdout
    header, *lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert header["kind"] == "run" and header["seed"] == 0 and header["examples"] == 1  # what --resume checks
    assert {line["dtype"] for line in lines} == {"float32", "float64"}
    for line in lines:
        assert set(REQUIRED_FIELDS) <= set(line)
        assert (line["claim"], line["framework"], line["verdict"]) == ("one_by_one_conv_is_linear", "numpy", "holds")


def test_report_merges_results_into_each_format(numpy_results, tmp_path, capsys):
    path, _ = numpy_results
    assert main(["report", "--no-probe", "-q", "--results", str(path), "--format", "json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["verdicts"][0]["claim"] == "one_by_one_conv_is_linear"
    cell = next(iter(report["verdicts"][0]["cells"].values()))
    assert cell["verdict"] == "holds" and cell["as_expected"] and set(cell["dtypes"]) == {"float32", "float64"}
    for fmt, marker in (("md", "## Verdict matrix"), ("html", "<table class='matrix'>")):
        output = tmp_path / f"report.{fmt}"
        assert main(["report", "--no-probe", "-q", "--results", str(path), "--format", fmt, "-o", str(output)]) == EXIT_OK
        assert marker in output.read_text(encoding="utf-8")


def test_report_check_exits_1_when_the_file_is_stale(numpy_results, tmp_path, capsys):
    path, _ = numpy_results
    doc = tmp_path / "CONVENTIONS.md"
    args = ["report", "--no-probe", "-q", "--results", str(path), "--format", "md"]
    assert main(args + ["-o", str(doc)]) == EXIT_OK
    assert main(args + ["--check", str(doc)]) == EXIT_OK
    doc.write_text(doc.read_text() + "hand edit\n")
    assert main(args + ["--check", str(doc)]) == EXIT_UNEXPECTED
    assert "stale" in capsys.readouterr().out


def test_report_record_adds_this_environments_probes(numpy_results, tmp_path, capsys):
    source, _ = numpy_results
    path = tmp_path / "env.jsonl"
    path.write_text(source.read_text())
    assert main(["report", "--record", str(path), "--frameworks", "numpy", "-q", "--format", "json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["environments"][0]["name"] == "env"
    assert any(r["topic"] == "kernel_layout" for r in report["conventions"])
    assert report["verdicts"], "the results already in the file are kept"


def test_run_lists_examples_that_did_not_run(tmp_path, monkeypatch, capsys):
    (tmp_path / "partly_na.py").write_text(textwrap.dedent("""
        import numpy as np
        from equivcheck.backends.base import NotApplicable
        from equivcheck.claim import claim, source

        @claim(title="t", statement="s", sources=[source("003", "q")], expected="holds", test_only=True,
               examples=[{"k": 1}, {"k": 2}, {"k": 2}])
        def check(bk, p, ctx):
            if p.k == 2:
                raise NotApplicable("no kernel of 2 here")
            ctx.equal("shape", tuple(bk.to_numpy(bk.asarray(ctx.array("x", (1, 3)))).shape), (1, 3))
    """))
    monkeypatch.setenv("EQUIVCHECK_EXTRA_CASES", str(tmp_path))
    assert main(["run", "--in-process", "--frameworks", "numpy", "--claims", "partly_na", "--dtypes", "float64",
                 "--examples", "1"]) == EXIT_OK
    out = capsys.readouterr()
    assert "(2 examples not run, listed at the end)" in out.err
    assert "2 example(s) of partly_na × numpy (float64) did not run (its other examples did): no kernel of 2 here" in out.out


def test_run_help_documents_resume_safety_and_what_tf32_does(capsys):
    _, out, _ = _exits(["run", "--help"], capsys)
    flat = " ".join(out.split())
    assert "--force-resume" in flat and "torn last line" in flat and "refused (exit 2)" in flat
    assert "TF32's unit roundoff" in flat and "compute_dtype 'tf32'" in flat


def test_allow_tf32_needs_a_gpu_and_says_so(capsys):
    assert main(["run", "--allow-tf32", "--frameworks", "numpy", "--claims", "conv_output_size"]) == EXIT_USAGE
    assert capsys.readouterr().err == ("equivcheck: error: --allow-tf32: TF32 exists only on a GPU; it needs "
                                       "--device gpu (got --device cpu)\n")


def test_the_gpu_tf32_options_reach_the_workers_and_the_results_file(monkeypatch, tmp_path, capsys):
    """No GPU here: the worker is stubbed; what is checked is that --device gpu --allow-tf32 reach the
    job and the run header, and that each result line records the compute dtype its worker reports."""
    from equivcheck import backends, worker
    from equivcheck.runner import run_claim

    jobs = []

    def fake_run_jobs(job_list, on_event, parallel=1):
        for job in job_list:
            jobs.append(job)
            for claim_id, dtype in job.items:
                from equivcheck.claim import load_claims

                payload = run_claim(load_claims()[claim_id], "numpy", dtype=dtype, examples=job.examples).to_dict()
                payload.update(device=job.device, compute_dtype="tf32" if dtype == "float32" else dtype)
                on_event("result", payload)

    monkeypatch.setattr(worker, "run_jobs", fake_run_jobs)
    monkeypatch.setattr(backends, "availability", lambda fw, import_it=True: None)
    path = tmp_path / "gpu.jsonl"
    main(["run", "--device", "gpu", "--allow-tf32", "--frameworks", "torch", "--claims", "conv_output_size",
          "--examples", "1", "-q", "--results", str(path)])
    assert [(j.framework, j.device, j.allow_tf32) for j in jobs] == [("torch", "gpu", True)]
    header, *lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert (header["device"], header["allow_tf32"]) == ("gpu", True)
    assert [(r["dtype"], r["compute_dtype"], r["allow_tf32"]) for r in lines] == [
        ("float64", "float64", True), ("float32", "tf32", True)]
    # the report puts them in a "TF32 allowed" column (no environment record needed) whose error/bound
    # is under the compute dtype each line names
    capsys.readouterr()
    assert main(["report", "--no-probe", "-q", "--results", str(path), "--format", "json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    (column, cell), = report["verdicts"][0]["cells"].items()
    assert column.endswith("· gpu · TF32 allowed")
    assert {d: v["compute_dtype"] for d, v in cell["dtypes"].items()} == {"float64": "float64", "float32": "tf32"}


def _result(**fields):
    from types import SimpleNamespace

    base = dict(claim="c", framework="numpy", dtype="float32", verdict="holds", expected="holds", as_expected=True,
                examples=5, examples_run=7, error=None, skipped=[])
    return SimpleNamespace(**{**base, **fields})


def test_the_table_says_how_many_examples_were_checked_when_not_all_were():
    from types import SimpleNamespace

    from equivcheck.cli import _verdict_table

    claims = [SimpleNamespace(id=i, examples=[{}]) for i in "cde"]
    rows = _verdict_table(claims, ["numpy", "torch"], [
        _result(examples_checked=3, examples_run=5),
        _result(dtype="float64", examples_checked=5, examples_run=5),
        _result(claim="d", examples_checked=4, examples_run=4),
        _result(claim="d", framework="torch"),  # a result from before examples_checked: no claim about it
        _result(claim="e", verdict="n/a", examples_checked=0, examples_run=1),  # n/a says it already
        _result(claim="e", framework="torch", verdict="raises", examples_checked=0, examples_run=3),  # so does raises
    ], {}).splitlines()
    assert rows[2].split("  ")[0] == "c" and "holds (8 of 10 examples checked)" in rows[2]
    assert rows[3].split() == ["d", "holds", "holds"]
    assert rows[4].split() == ["e", "n/a", "raises"]


def test_the_footer_counts_the_draws_that_ran():
    from types import SimpleNamespace

    from equivcheck.cli import _draw_summary

    claims = {"c": SimpleNamespace(examples=[{}, {}])}
    full = _result(draws_asked=5, draws_run=5)
    short = _result(framework="torch", draws_asked=5, draws_run=2)
    na = _result(framework="jax", verdict="n/a", draws_asked=5, draws_run=0)  # nothing ran; its verdict says so
    assert _draw_summary([full], claims, 5) == ["5 draws ran (5 per claim × framework × dtype)"]
    assert _draw_summary([full, short, na], claims, 5) == [
        "7 of 15 draws ran (5 asked per claim × framework × dtype)", "claim c × torch float32: 2 of 5 draws ran"]
    # results without draws_run/draws_asked: every outcome past the fixed examples was a draw
    assert _draw_summary([_result(examples_run=4)], claims, 5)[0] == "2 of 5 draws ran (5 asked per claim × framework × dtype)"
    refuted = _result(verdict="refuted", counterexample={"params": {}}, draws_asked=5, draws_run=1)
    # a refutation stops the draws: counted in the head line, not listed one by one
    assert _draw_summary([refuted, short], claims, 5) == [
        "3 of 10 draws ran (5 asked per claim × framework × dtype); 1 result stopped at its counterexample",
        "claim c × torch float32: 2 of 5 draws ran"]
    assert _draw_summary([full], claims, 5, one_example=True) == ["one example (--params), no draws"]
