"""A user's own claims: --cases / --no-builtin, pytest --equivcheck in their project, an inert plugin
elsewhere, and one diagnosis (with a reproduce command that reproduces) from the CLI and pytest."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap

import pytest

from equivcheck.cli import EXIT_UNEXPECTED, EXIT_USAGE, main

#: A deliberately wrong claim: doubling the kernel is said to multiply the output by 2.001.
WRONG = '''
from hypothesis import strategies as st

from equivcheck.case import claim, oracle, source


@claim(
    title="doubling the kernel multiplies the output by 2.001 (wrong on purpose)",
    statement="conv(x, 2w) == 2.001 * conv(x, w)",
    sources=[source("https://example.org/a-wrong-claim", "doubling the kernel doubles the output, and a bit")],
    examples=[{"n": 1, "c": 2, "h": 4, "k": 3}],
    space=st.fixed_dictionaries({"n": st.integers(1, 2), "c": st.integers(1, 3), "h": st.integers(3, 6),
                                 "k": st.integers(1, 3)}),
    expected="holds",
    notes={"numpy": "the numpy column runs the oracle's own conv"},
)
def check(bk, p, ctx):
    x = ctx.array("x", (p.n, p.c, p.h, p.h))
    w = ctx.array("w", (2, p.c, p.k, p.k))
    got = bk.to_numpy(bk.conv(bk.asarray(x), bk.asarray(2 * w)))
    ctx.close("conv(x, 2w) vs 2.001·conv(x, w)", got, 2.001 * oracle.conv(x, w),
              magnitude=2.001 * oracle.conv(abs(x), abs(w)), terms=p.c * p.k * p.k, sides=1)
'''

#: A right one, importing from the modules the names live in (the one-import ``equivcheck.case`` is optional).
RIGHT = '''
from equivcheck import oracle
from equivcheck.claim import claim, source


@claim(title="a 1x1 kernel of ones sums the channels", statement="conv(x, ones(1, C, 1, 1)) == x.sum(axis=1)",
       sources=[source("arXiv:1312.4400", "1x1 convolutions")], examples=[{"c": 3}], expected="holds")
def check(bk, p, ctx):
    import numpy as np

    x = ctx.array("x", (1, p.c, 4, 4))
    got = bk.to_numpy(bk.conv(bk.asarray(x), bk.asarray(np.ones((1, p.c, 1, 1)))))
    ctx.close("channel sum", got, x.sum(axis=1, keepdims=True), magnitude=np.abs(x).sum(axis=1, keepdims=True),
              terms=p.c, sides=1)
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project directory with ./my_claims/ holding one wrong and one right claim."""
    folder = tmp_path / "my_claims"
    folder.mkdir()
    (folder / "doubling_kernel.py").write_text(WRONG)
    (folder / "ones_kernel_sums_channels.py").write_text(RIGHT)
    monkeypatch.chdir(tmp_path)
    for name in ("EQUIVCHECK_FRAMEWORKS", "EQUIVCHECK_CASES", "EQUIVCHECK_EXTRA_CASES", "EQUIVCHECK_NO_BUILTIN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _pytest(cwd, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EQUIVCHECK_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _diagnosis(text: str, claim: str) -> list[str]:
    """The failure message's lines: from '<claim> on …' to its reproduce line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{claim} on "))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("  reproduce: "))
    return lines[start:end + 1]


def test_list_with_cases_adds_the_users_claims_and_no_builtin_keeps_only_them(project, capsys):
    assert main(["list", "--cases", "my_claims"]) == 0
    listed = capsys.readouterr().out
    assert "doubling_kernel" in listed and "one_by_one_conv_is_linear" in listed
    assert main(["list", "--cases", "my_claims", "--no-builtin"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == [
        "doubling_kernel", "ones_kernel_sums_channels"]


def test_the_cases_variable_adds_directories_and_no_builtin_alone_is_a_usage_error(project, monkeypatch, capsys):
    monkeypatch.setenv("EQUIVCHECK_CASES", "my_claims")
    assert main(["list", "--no-builtin"]) == 0
    assert "ones_kernel_sums_channels" in capsys.readouterr().out
    monkeypatch.delenv("EQUIVCHECK_CASES")
    assert main(["run", "--no-builtin"]) == EXIT_USAGE
    assert capsys.readouterr().err == ("equivcheck: error: --no-builtin leaves no claims: give --cases DIR "
                                       "(or $EQUIVCHECK_CASES)\n")
    assert main(["list", "--cases", "no_such_dir"]) == EXIT_USAGE
    assert capsys.readouterr().err == "equivcheck: error: --cases: no_such_dir: no such directory\n"


def test_a_claim_id_in_two_directories_is_an_error_naming_both_files(project, capsys):
    (project / "more").mkdir()
    (project / "more" / "ones_kernel_sums_channels.py").write_text(RIGHT)
    (project / "more" / "kernel_layouts.py").write_text(RIGHT)  # clashes with the built-in catalog
    assert main(["list", "--cases", "my_claims", "--cases", "more", "--no-builtin"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert (f"more/ones_kernel_sums_channels.py: field 'id': duplicate claim id 'ones_kernel_sums_channels' "
            f"(also in my_claims/ones_kernel_sums_channels.py)") in err
    assert main(["list", "--cases", "more"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "more/kernel_layouts.py: field 'id': duplicate claim id 'kernel_layouts' (also in " in err
    assert "cases/kernel_layouts.py)" in err


def test_the_same_diagnosis_from_equivcheck_run_and_pytest_and_its_reproduce_command_reproduces(project, capsys):
    common = ["--cases", "my_claims", "--no-builtin", "--frameworks", "numpy", "--dtypes", "float32",
              "--examples", "3", "--claims", "doubling_kernel"]
    assert main(["run", "--in-process", "-q", *common]) == EXIT_UNEXPECTED
    cli = _diagnosis(capsys.readouterr().out, "doubling_kernel")
    under_pytest = _pytest(project, "--equivcheck", *common)
    assert under_pytest.returncode == 1, under_pytest.stdout[-3000:]
    from equivcheck.backends import FRAMEWORKS

    assert f"1 failed, {len(FRAMEWORKS) - 1} skipped" in under_pytest.stdout
    assert _diagnosis(under_pytest.stdout, "doubling_kernel") == cli
    # what the message says: claim, framework and version, the failing check with error vs bound, params
    import numpy as np

    assert cli[0] == (f"doubling_kernel on numpy {np.__version__} (float32, cpu): UNEXPECTED FAILURE: expected "
                      f"'holds' but it is 'refuted'")
    assert cli[2] == "  source: my_claims/doubling_kernel.py"
    assert cli[3] == "  note: the numpy column runs the oracle's own conv"  # the case's note for this framework
    assert any(line.startswith("  params: {") for line in cli)
    assert any(line.startswith("  failed check 'conv(x, 2w) vs 2.001·conv(x, w)': max_abs_err=") and " vs bound="
               in line for line in cli)
    reproduce = cli[-1][len("  reproduce: "):]
    assert "_value" not in reproduce and "--cases my_claims" in reproduce
    # ... and the command gives the same verdict, on that one example, with the same message
    argv = shlex.split(reproduce)
    assert argv[:2] == ["equivcheck", "run"]
    assert main([*argv[1:], "--in-process", "-q"]) == EXIT_UNEXPECTED
    out = capsys.readouterr().out
    assert "doubling_kernel  refuted!" in out and "one example (--params), no draws" in out
    again = _diagnosis(out, "doubling_kernel")
    assert again[-1] == cli[-1] and [line for line in again if "failed check" in line] == [
        line for line in cli if "failed check" in line]


def test_pytest_equivcheck_in_a_users_project_runs_their_claims_and_the_catalog(project):
    (project / "pytest.ini").write_text("[pytest]\nequivcheck_cases = my_claims\n")
    (project / "test_mine.py").write_text("def test_unrelated():\n    assert True\n")
    run = _pytest(project, "--equivcheck", "--frameworks", "numpy", "--dtypes", "float64", "--examples", "0",
                  "--claims", "ones_kernel_sums_channels,one_by_one_conv_is_linear", "-v")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "test_claim[ones_kernel_sums_channels-numpy] PASSED" in run.stdout
    assert "test_claim[one_by_one_conv_is_linear-numpy] PASSED" in run.stdout
    assert "test_mine.py::test_unrelated PASSED" in run.stdout
    assert "equivcheck: frameworks=numpy dtypes=float64 examples=0 seed=0 device=cpu" in run.stdout


def test_under_pytest_a_malformed_case_file_is_one_line(project):
    (project / "my_claims" / "broken_case.py").write_text(textwrap.dedent("""
        from equivcheck.claim import claim, source
        @claim(title="t", statement="s", sources=[source("000", "q")], examples=[{}], expected="maybe")
        def check(bk, p, ctx):
            pass
    """))
    run = _pytest(project, "--equivcheck", "--cases", "my_claims", "--frameworks", "numpy")
    assert run.returncode == 4
    assert "Traceback" not in run.stdout + run.stderr
    assert "ERROR: my_claims/broken_case.py: field 'expected': unknown verdict 'maybe'" in run.stderr


def test_a_pytest_run_that_does_not_ask_for_equivcheck_gets_nothing_from_it(tmp_path):
    (tmp_path / "test_plain.py").write_text(textwrap.dedent("""
        import sys

        def test_nothing_was_imported():
            heavy = ("numpy", "torch", "tensorflow", "jax", "flax", "keras", "hypothesis")
            loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy or m.startswith("equivcheck."))
            assert loaded == ["equivcheck.options", "equivcheck.pytest_plugin"], loaded
    """))
    run = _pytest(tmp_path, "-p", "no:hypothesispytest", "-v")
    assert run.returncode == 0, run.stdout[-3000:]
    # (pytest's own "plugins: …, equivcheck-0.1.0" line lists it, as it lists every installed plugin)
    assert [line for line in run.stdout.splitlines() if "equivcheck" in line and not line.startswith("plugins:")] == []
    assert "collected 1 item" in run.stdout


def test_the_plugin_restates_the_runner_defaults():
    from equivcheck import pytest_plugin, runner

    assert (pytest_plugin.DEFAULT_EXAMPLES, pytest_plugin.DEFAULT_SEED) == (runner.DEFAULT_EXAMPLES,
                                                                           runner.DEFAULT_SEED)


def test_tensorflow_start_up_logs_stay_quiet_unless_asked_for(tmp_path):
    pytest.importorskip("tensorflow")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    argv = [sys.executable, "-m", "equivcheck.cli", "run", "--in-process", "-q", "--frameworks", "tensorflow",
            "--claims", "conv_output_size", "--dtypes", "float32", "--examples", "1"]
    quiet = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "I0000" not in quiet.stderr and "cpu_feature_guard" not in quiet.stderr, quiet.stderr
    # (TF_CPP_MIN_LOG_LEVEL set by the user wins: the CLI only sets a default; not run here, a second
    # TensorFlow start-up costs as much again)
