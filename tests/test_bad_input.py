"""Bad input gets one line that names what is wrong, with exit code 2 — never a traceback."""
from __future__ import annotations

import json
import os
import stat

import pytest

from equivcheck.cli import EXIT_USAGE, main


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("equivcheck: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("argv, words", [
    (["run", "--examples", "0"], "--examples: must be >= 1, got 0"),
    (["run", "--examples", "-2"], "--examples: must be >= 1, got -2"),
    (["run", "--examples", "many"], "--examples: expected a whole number, got 'many'"),
    (["run", "--seed", "-1"], "--seed: must be >= 0, got -1"),
    (["run", "--frameworks", "torch,pytorch"], "--frameworks: unknown framework 'pytorch'"),
    (["run", "--claims", "one_by_one_conv_is_linear,1x1"], "--claims: unknown claim id '1x1'"),
    (["run", "--dtypes", "float16"], "--dtypes: unknown dtype 'float16'"),
    (["run", "--params", "{not json"], "--params: not valid JSON"),
    (["run", "--resume"], "--resume needs --results FILE"),
    (["run", "--frameworks", ""], "--frameworks: no framework named (got ''); choose from numpy"),
    (["run", "--frameworks", " , "], "--frameworks: no framework named (got ' , ')"),
    (["run", "--claims", ""], "--claims: no claim id named (got '')"),
    (["run", "--claims", ","], "--claims: no claim id named (got ',')"),
    (["report", "--frameworks", ""], "--frameworks: no framework named (got '')"),
    (["run", "--values", "int"], "--values sets the input values of the one example --params runs; it needs --params"),
    (["run", "--value-seed", "3"], "--value-seed sets the input values"),
    (["run", "--params", "{}", "--shard", "1/2"], "--shard splits the draws of many claims"),
    (["list", "--no-builtin"], "--no-builtin leaves no claims"),
])
def test_bad_option_values(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        code = main(argv)
        raise SystemExit(code)
    assert exit_info.value.code == EXIT_USAGE
    assert words in one_line_error(capsys)


def test_a_blank_frameworks_variable_is_a_usage_error_too(monkeypatch, capsys):
    monkeypatch.setenv("EQUIVCHECK_FRAMEWORKS", " , ")
    assert main(["run", "--claims", "one_by_one_conv_is_linear"]) == EXIT_USAGE
    assert "EQUIVCHECK_FRAMEWORKS: no framework named (got ' , ')" in one_line_error(capsys)


def test_results_into_a_missing_directory_creates_it_and_names_the_file(tmp_path, capsys):
    path = tmp_path / "new" / "deeper" / "r.jsonl"
    assert main(["run", "--in-process", "-q", "--frameworks", "numpy", "--claims", "conv_output_size",
                 "--dtypes", "float64", "--examples", "1", "--results", str(path)]) == 0
    assert path.exists()
    last = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert last == f"results: {path} (1 results; created {tmp_path / 'new'})"


def test_unknown_framework_in_environment_variable(monkeypatch, capsys):
    monkeypatch.setenv("EQUIVCHECK_FRAMEWORKS", "numpy,tf")
    assert main(["run", "--claims", "one_by_one_conv_is_linear"]) == EXIT_USAGE
    assert "EQUIVCHECK_FRAMEWORKS: unknown framework 'tf'" in one_line_error(capsys)


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else False,
                    reason="root can write into a read-only directory, so the unwritable path cannot be made")
def test_unwritable_results_path_read_only_dir(tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    assert main(["run", "--frameworks", "numpy", "--results", str(folder / "r.jsonl")]) == EXIT_USAGE
    assert "--results: cannot write" in one_line_error(capsys)


def test_unwritable_results_path(tmp_path, capsys):
    # A path under a regular file cannot be created, even by root.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["run", "--frameworks", "numpy", "--results", str(blocker / "r.jsonl")]) == EXIT_USAGE
    assert f"--results: cannot write {blocker / 'r.jsonl'}" in one_line_error(capsys)


def test_malformed_case_file_stops_the_run_naming_file_and_field(tmp_path, monkeypatch, capsys):
    (tmp_path / "bad_case.py").write_text(
        "from equivcheck.claim import claim, source\n"
        "@claim(title='t', statement='s', sources=[source('000', 'q')], examples=[{}], expected='maybe')\n"
        "def check(bk, p, ctx):\n    pass\n")
    monkeypatch.setenv("EQUIVCHECK_EXTRA_CASES", str(tmp_path))
    assert main(["list"]) == EXIT_USAGE
    err = one_line_error(capsys)
    assert "bad_case.py: field 'expected': unknown verdict 'maybe'" in err


def test_same_seed_gives_identical_results_files(tmp_path, capsys):
    files = []
    for name in ("first", "second"):
        path = tmp_path / f"{name}.jsonl"
        assert main(["run", "--in-process", "-q", "--frameworks", "numpy", "--examples", "3", "--seed", "5",
                     "--claims", "one_by_one_conv_is_linear,pixel_shuffle_vs_depth_to_space",
                     "--results", str(path)]) == 0
        header, *records = [json.loads(line) for line in path.read_text().splitlines()]
        assert header["kind"] == "run" and header["seed"] == 5
        for record in records:
            record.pop("duration_s")
        files.append([header, *records])
    assert files[0] == files[1] and len(files[0]) == 5


def test_an_adapter_class_statement_with_an_unknown_keyword_names_it():
    from equivcheck.backends.base import Backend

    with pytest.raises(TypeError, match=r"MyBackend: unknown adapter keyword\(s\) \['framwork'\]; .*'framework'"):
        class MyBackend(Backend, framwork="mine"):
            pass

    class Mine(Backend, framework="mine", patch_order="k,C"):
        pass

    assert (Mine.framework_name, Mine.patch_order, Mine.functional_api) == ("mine", "k,C", Backend.functional_api)
