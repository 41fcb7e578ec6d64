"""``--resume`` is safe: a torn last line is dropped (and said so) before appending, and a results file
written with other settings or by other equivcheck code is refused unless forced."""
from __future__ import annotations

import json

import pytest

from equivcheck import results as results_module
from equivcheck.cli import EXIT_OK, EXIT_USAGE, main
from equivcheck.results import RUN_KIND, read, run_headers

#: One quick claim on the oracle column, in this process.
RUN = ["run", "--in-process", "--frameworks", "numpy", "--claims", "conv_output_size", "--examples", "1", "-q"]


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def _run(path, *extra):
    return main([*RUN, "--results", str(path), *extra])


@pytest.fixture
def written(tmp_path, capsys):
    """A complete results file: the run header, then float64 and float32 of conv_output_size × numpy."""
    path = tmp_path / "r.jsonl"
    assert _run(path) == EXIT_OK
    capsys.readouterr()
    return path


def test_the_file_starts_with_a_run_header_and_readers_skip_it(written, capsys):
    header, *records = [json.loads(line) for line in _lines(written)]
    assert header["kind"] == RUN_KIND and "claim" not in header
    assert {k: header[k] for k in ("seed", "examples", "dtypes", "device", "allow_tf32", "params")} == {
        "seed": 0, "examples": 1, "dtypes": ["float64", "float32"], "device": "cpu", "allow_tf32": False,
        "params": None}
    assert header["equivcheck"] == results_module.equivcheck_identity()
    assert [(r["dtype"], r["compute_dtype"], r["allow_tf32"]) for r in records] == [
        ("float64", "float64", False), ("float32", "float64", False)]  # the oracle computes in float64
    assert [(r.claim, r.dtype) for r in read(written)] == [("conv_output_size", "float64"),
                                                          ("conv_output_size", "float32")]
    # the report merger skips it too: one verdict row, from the two results
    assert main(["report", "--no-probe", "-q", "--results", str(written), "--format", "json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert [(v["claim"], v["framework"]) for v in report["verdicts"]] == [("conv_output_size", "numpy")]
    assert set(next(iter(report["verdicts"][0]["cells"].values()))["dtypes"]) == {"float64", "float32"}


def test_a_torn_last_line_is_dropped_with_a_message_and_its_result_runs_again(written, capsys):
    header, first, second = _lines(written)
    # the process died while writing the second result: half of its line, no newline
    written.write_text(f"{header}\n{first}\n{second[: len(second) // 2]}", encoding="utf-8")
    assert _run(written, "--resume") == EXIT_OK
    err = capsys.readouterr().err
    message = [line for line in err.splitlines() if "torn" in line]
    assert len(message) == 1 and message[0].startswith(f"equivcheck: --resume: dropped the torn last line of {written}")
    assert f"({len(second) // 2} bytes cut off mid-write" in message[0]
    lines = _lines(written)
    assert lines[:2] == [header, first]  # nothing before the tear changed, no second header
    assert all(json.loads(line) for line in lines)  # every line whole: the new record was not glued on
    assert [(r.claim, r.dtype) for r in read(written)] == [("conv_output_size", "float64"),
                                                          ("conv_output_size", "float32")]


def test_a_whole_last_record_without_its_newline_is_kept(written, capsys):
    text = written.read_text(encoding="utf-8")
    written.write_text(text.rstrip("\n"), encoding="utf-8")
    assert _run(written, "--resume") == EXIT_OK
    assert "torn" not in capsys.readouterr().err
    assert written.read_text(encoding="utf-8") == text  # newline restored, nothing re-run or appended


@pytest.mark.parametrize("extra, named", [
    (["--seed", "1"], "written with --seed 0, this run has --seed 1"),
    (["--examples", "2"], "written with --examples 1, this run has --examples 2"),
    (["--dtypes", "float32"], "written with --dtypes float64,float32, this run has --dtypes float32"),
    (["--seed", "7", "--examples", "3"], "written with --seed 0 and --examples 1, this run has --seed 7 and --examples 3"),
])
def test_resuming_with_other_settings_exits_2_with_one_line_naming_the_option(written, capsys, extra, named):
    before = written.read_bytes()
    assert _run(written, "--resume", *extra) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"equivcheck: error: --resume: {written} ")
    assert named in err and "--force-resume" in err
    assert written.read_bytes() == before  # a refused resume changes nothing


def test_the_same_dtypes_in_another_order_are_the_same_settings(written):
    assert _run(written, "--resume", "--dtypes", "float32,float64") == EXIT_OK


def test_resuming_a_file_of_another_equivcheck_commit_is_refused(written, capsys, monkeypatch):
    monkeypatch.setattr(results_module, "equivcheck_identity", lambda: "0123abcd")
    assert _run(written, "--resume") == EXIT_USAGE
    err = capsys.readouterr().err
    old = json.loads(_lines(written)[0])["equivcheck"]
    assert err.count("\n") == 1 and f"written with equivcheck commit {old}, this run has equivcheck commit 0123abcd" in err


def test_force_resume_keeps_the_old_results_and_records_the_new_settings(written, capsys):
    assert _run(written, "--force-resume", "--seed", "1", "--dtypes", "float64,float32") == EXIT_OK
    headers = run_headers(written)
    assert [h["seed"] for h in headers] == [0, 1]  # the second header says what follows it ran with
    assert [r.seed for r in read(written)] == [0, 0]  # nothing re-ran: every triple was there already


def test_a_file_without_a_run_header_is_refused_unless_forced(written, capsys):
    header, *records = _lines(written)
    written.write_text("\n".join(records) + "\n", encoding="utf-8")  # as an older equivcheck wrote it
    assert _run(written, "--resume") == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no run header" in err and "--force-resume" in err
    assert _run(written, "--force-resume") == EXIT_OK
    assert json.loads(_lines(written)[-1])["kind"] == RUN_KIND  # its settings recorded from now on


def test_resuming_an_empty_or_missing_file_starts_it(tmp_path):
    path = tmp_path / "new.jsonl"
    assert _run(path, "--resume") == EXIT_OK
    assert json.loads(_lines(path)[0])["kind"] == RUN_KIND and len(read(path)) == 2


def test_the_identity_is_a_commit_of_this_checkout_or_a_version():
    identity = results_module.equivcheck_identity()
    commit = identity.removesuffix("+dirty")
    assert (len(commit) == 40 and all(c in "0123456789abcdef" for c in commit)) or identity[0].isdigit(), identity
