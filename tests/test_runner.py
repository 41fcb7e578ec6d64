"""Runner behaviour a user relies on: verdict rules, shrinking, determinism, clear errors."""
from __future__ import annotations

import textwrap

from equivcheck.claim import DEFAULT_CASES_DIR, load_file
from equivcheck.runner import run_claim

HEADER = """
import numpy as np
from hypothesis import strategies as st
from equivcheck import oracle
from equivcheck.claim import claim, source
from equivcheck.tolerance import conv_terms
"""


def case(tmp_path, name, body):
    path = tmp_path / f"{name}.py"
    path.write_text(HEADER + textwrap.dedent(body))
    return load_file(path)


def test_invalid_parameter_space_is_blamed_on_the_case(tmp_path):
    claim = case(tmp_path, "bad_space", """
        @claim(title="t", statement="s", sources=[source("003", "q")], expected="holds",
               examples=[{"n": 5, "k": 3}],
               space=st.fixed_dictionaries({"n": st.integers(1, 6), "k": st.integers(1, 6)}))
        def check(bk, p, ctx):
            x, w = ctx.array("x", (1, 1, p.n)), ctx.array("w", (1, 1, p.k))
            out = bk.conv(bk.asarray(x), bk.asarray(w))
            ctx.close("conv", out, oracle.conv(x, w), magnitude=oracle.conv(abs(x), abs(w)),
                      terms=conv_terms(w.shape), sides=1)
    """)
    result = run_claim(claim, "numpy", examples=30, seed=1)
    assert result.verdict == "error"
    assert "bad_space.py: field 'space': draws invalid parameters" in result.error["message"]
    # hypothesis shrinks the invalid draw to the smallest one: kernel 2 on length 1
    assert result.counterexample["params"]["n"] < result.counterexample["params"]["k"]


def test_refutation_is_shrunk_to_a_minimal_counterexample(tmp_path):
    claim = case(tmp_path, "flip", """
        @claim(title="t", statement="conv equals true convolution", sources=[source("001", "q")],
               expected="refuted", examples=[{"k": 1}],
               space=st.fixed_dictionaries({"k": st.integers(1, 6), "n": st.integers(6, 9)}))
        def check(bk, p, ctx):
            x, w = ctx.array("x", (1, 1, p.get("n", 6))), ctx.array("w", (1, 1, p.k))
            got = bk.conv(bk.asarray(x), bk.asarray(w))
            ctx.close("conv vs convolve", got, oracle.convolve(x, w),
                      magnitude=oracle.conv(abs(x), abs(w)), terms=conv_terms(w.shape), sides=1)
    """)
    result = run_claim(claim, "numpy", examples=20, seed=3)
    assert result.verdict == "refuted"
    params = result.counterexample["params"]
    assert params["k"] == 2 and params["n"] == 6, params  # the smallest asymmetric kernel, shortest input
    assert result.counterexample["failure"]["label"] == "conv vs convolve"
    assert set(result.counterexample["arrays"]) == {"x", "w"}


def test_same_seed_same_results(tmp_path):
    claim = load_file(DEFAULT_CASES_DIR / "one_by_one_conv_is_linear.py")
    first = run_claim(claim, "numpy", examples=8, seed=11).to_dict()
    second = run_claim(claim, "numpy", examples=8, seed=11).to_dict()
    for record in (first, second):
        record.pop("duration_s")
    assert first == second


def test_case_body_bug_is_an_error_not_a_verdict(tmp_path):
    claim = case(tmp_path, "buggy", """
        @claim(title="t", statement="s", sources=[source("000", "q")], expected="raises", examples=[{"a": 1}])
        def check(bk, p, ctx):
            return p.no_such_parameter
    """)
    result = run_claim(claim, "numpy", examples=0)
    assert result.verdict == "error" and not result.as_expected
    assert "example has no parameter 'no_such_parameter'" in result.error["message"]


def test_known_deviation_applies_only_to_the_build_it_names(tmp_path):
    """numpy's versions() has a 'numpy' entry: a deviation matching it changes the expectation,
    one naming another value or dtype does not, and the message says what to do when it is fixed."""
    import numpy as np

    from equivcheck.report.messages import direction

    claim = case(tmp_path, "deviating", f"""
        from equivcheck.claim import deviation

        @claim(title="t", statement="s", sources=[source("000", "q")], expected="holds", examples=[{{"a": 1}}],
               deviations=[deviation("numpy", "refuted", dtype="float64", numpy="{np.__version__}", reason="bug 1"),
                           deviation("numpy", "raises", numpy="0.0.1", reason="not this build")])
        def check(bk, p, ctx):
            ctx.equal("a", p.a, 1)
    """)
    as_deviated = run_claim(claim, "numpy", dtype="float64", examples=0)
    assert (as_deviated.verdict, as_deviated.expected) == ("holds", "refuted") and not as_deviated.as_expected
    assert as_deviated.expected_because == "known deviation: bug 1"
    assert "bug 1" in direction(as_deviated) and "remove the deviation" in direction(as_deviated)
    general = run_claim(claim, "numpy", dtype="float32", examples=0)
    assert (general.expected, general.expected_because, general.as_expected) == ("holds", "", True)


def test_deviation_with_supporting_accepts_a_failed_supporting_check_only_where_it_applies(tmp_path):
    import numpy as np

    claim = case(tmp_path, "deviating_support", f"""
        from equivcheck.claim import deviation

        @claim(title="t", statement="s", sources=[source("000", "q")], expected="holds", examples=[{{"a": 1}}],
               deviations=[deviation("numpy", "holds", dtype="float64", numpy="{np.__version__}", supporting=True,
                                     reason="bug 2")])
        def check(bk, p, ctx):
            ctx.equal("a", p.a, 1)
            ctx.equal("side fact", 1, 2, support=True)
    """)
    known = run_claim(claim, "numpy", dtype="float64", examples=0)
    assert known.broken is not None and known.broken_expected and known.as_expected
    elsewhere = run_claim(claim, "numpy", dtype="float32", examples=0)
    assert elsewhere.broken is not None and not elsewhere.broken_expected and not elsewhere.as_expected


def test_examples_that_do_not_run_inside_a_claim_that_holds_are_counted(tmp_path):
    claim = case(tmp_path, "partly_na", """
        from equivcheck.backends.base import NotApplicable

        @claim(title="t", statement="s", sources=[source("003", "q")], expected="holds",
               examples=[{"k": 1}, {"k": 2}, {"k": 3}, {"k": 2}])
        def check(bk, p, ctx):
            if p.k == 2:
                raise NotApplicable("no kernel of 2 here")
            x, w = ctx.array("x", (1, 1, 4)), ctx.array("w", (1, 1, p.k))
            ctx.close("conv", bk.conv(bk.asarray(x), bk.asarray(w)), oracle.conv(x, w),
                      magnitude=oracle.conv(abs(x), abs(w)), terms=conv_terms(w.shape), sides=1)
    """)
    result = run_claim(claim, "numpy", examples=0)
    assert result.verdict == "holds" and result.as_expected
    assert result.skipped == [{"reason": "no kernel of 2 here", "count": 2, "params": {"k": 2}}]
    # a claim that is n/a as a whole lists nothing as skipped: its reason is the verdict's
    claim = case(tmp_path, "all_na", """
        from equivcheck.backends.base import NotApplicable

        @claim(title="t", statement="s", sources=[source("003", "q")], expected="n/a", examples=[{"k": 2}])
        def check(bk, p, ctx):
            raise NotApplicable("no kernel of 2 here")
    """)
    assert run_claim(claim, "numpy", examples=0).skipped == []


# ---- no verdict without evidence ----------------------------------------------------------------
CONV_CHECK = """
            x, w = ctx.array("x", (1, 1, 4)), ctx.array("w", (1, 1, 2))
            ctx.close("conv", bk.conv(bk.asarray(x), bk.asarray(w)), oracle.conv(x, w),
                      magnitude=oracle.conv(abs(x), abs(w)), terms=conv_terms(w.shape), sides=1)
"""


def test_a_body_that_checks_nothing_is_an_error_naming_the_file(tmp_path):
    claim = case(tmp_path, "checks_nothing", """
        @claim(title="t", statement="s", sources=[source("000", "q")], expected="holds", examples=[{"a": 1}])
        def check(bk, p, ctx):
            x = ctx.array("x", (2,))
            if p.a == 1:
                return  # an example it cannot check, left without raising NotApplicable
    """)
    result = run_claim(claim, "numpy", examples=0)
    assert result.verdict == "error" and not result.as_expected
    message = result.error["message"]
    assert "checks_nothing.py: the body returned without checking the statement (no check at all)" in message
    assert "\n" not in message
    assert (result.examples_checked, result.statement_checks) == (0, 0)


def test_supporting_checks_alone_are_not_evidence_for_the_statement(tmp_path):
    claim = case(tmp_path, "support_only", """
        @claim(title="t", statement="s", sources=[source("000", "q")], expected="holds", examples=[{"a": 1}])
        def check(bk, p, ctx):
            ctx.equal("a side fact", p.a, 1, support=True)
    """)
    result = run_claim(claim, "numpy", examples=0)
    assert result.verdict == "error"
    assert "support_only.py: the body returned without checking the statement (only 1 supporting check(s))" \
        in result.error["message"]


def test_a_space_that_raises_is_an_error_naming_the_file_and_the_field(tmp_path):
    claim = case(tmp_path, "space_raises", """
        @st.composite
        def broken(draw):
            return {"k": draw(st.integers(1, 3)) // 0}

        @claim(title="t", statement="s", sources=[source("000", "q")], expected="holds", examples=[{"k": 2}],
               space=broken())
        def check(bk, p, ctx):
    """ + CONV_CHECK)
    result = run_claim(claim, "numpy", examples=50)
    assert result.verdict == "error" and not result.as_expected
    assert result.error["message"].startswith(f"{claim.path}: field 'space': drawing from it raised ZeroDivisionError")
    assert result.draws_asked == 50 and result.draws_run == 0
    assert result.examples_checked == 1  # the fixed example ran; nothing drawn did


def test_a_name_error_inside_ctx_raises_is_an_error_not_the_framework_rejecting(tmp_path):
    claim = case(tmp_path, "typo_in_raises", """
        @claim(title="t", statement="s", sources=[source("000", "q")], expected="holds", examples=[{"a": 1}])
        def check(bk, p, ctx):
            x = ctx.array("x", (1, 2, 4))
            ctx.raises("conv rejects the wrong depth", lambda: bk.conv(bk.asarray(x), bk.asarray(wrong_kernel)))
    """)
    result = run_claim(claim, "numpy", examples=0)
    assert result.verdict == "error"
    assert result.error["type"] == "builtins.NameError" and "wrong_kernel" in result.error["message"]
    # one line naming the file and the line of the case's own code
    assert result.error["message"].startswith(f"{claim.path}:") and "\n" not in result.error["message"]


def test_ctx_raises_still_records_the_frameworks_own_rejection(tmp_path):
    claim = case(tmp_path, "real_rejection", """
        @claim(title="t", statement="s", sources=[source("000", "q")], expected="holds", examples=[{"a": 1}])
        def check(bk, p, ctx):
            x, w = ctx.array("x", (1, 2, 4)), ctx.array("w", (1, 1, 2))
            ctx.raises("conv rejects the wrong depth", bk.conv, bk.asarray(x), bk.asarray(w))
    """)
    result = run_claim(claim, "numpy", examples=0)
    assert result.verdict == "holds" and result.statement_checks_passed == 1
    assert result.errors["conv rejects the wrong depth"]["type"] == "equivcheck.oracle.OracleError"


def test_numpy_failing_in_a_case_body_is_the_cases_error_not_the_frameworks(tmp_path):
    claim = case(tmp_path, "numpy_in_body", """
        @claim(title="t", statement="s", sources=[source("000", "q")], expected="raises", examples=[{"a": 1}])
        def check(bk, p, ctx):
            np.ones((2, 3)).reshape(4, 4)   # the case's own arithmetic, not a framework call
    """)
    result = run_claim(claim, "numpy", examples=0)
    assert result.verdict == "error" and result.error["type"] == "builtins.ValueError"


def test_results_count_the_evidence(tmp_path):
    claim = case(tmp_path, "evidence", """
        from equivcheck.known_issues import KnownIssueSkip

        @claim(title="t", statement="s", sources=[source("000", "q")], expected="holds",
               examples=[{"k": 0}, {"k": 1}, {"k": 2}],
               space=st.fixed_dictionaries({"k": st.integers(1, 2)}))
        def check(bk, p, ctx):
            if p.k == 0:
                raise KnownIssueSkip("not run: a known issue")
            ctx.equal("one", 1, 1)
            ctx.equal("two", 2, 2)
            ctx.equal("a side fact", 3, 3, support=True)
    """)
    result = run_claim(claim, "numpy", examples=6, seed=2)
    assert result.verdict == "holds"
    # the first fixed example did not run, and the draws still ran (it was one example's issue)
    assert result.draws_asked == 6 and result.draws_run == 6
    assert result.examples_run == 3 + 6 and result.examples_checked == 2 + 6
    assert (result.statement_checks, result.statement_checks_passed) == (2 * 8, 2 * 8)
    assert result.skipped == [{"reason": "not run: a known issue", "count": 1, "params": {"k": 0}}]


def test_a_framework_without_the_operation_draws_nothing(tmp_path):
    claim = case(tmp_path, "lacking", """
        from equivcheck.backends.base import NotApplicable

        @claim(title="t", statement="s", sources=[source("000", "q")], expected="n/a", examples=[{"k": 1}],
               space=st.fixed_dictionaries({"k": st.integers(1, 2)}))
        def check(bk, p, ctx):
            raise NotApplicable("numpy has no such operation")
    """)
    result = run_claim(claim, "numpy", examples=6)
    assert result.verdict == "n/a" and result.draws_asked == 0 and result.examples_run == 1


def test_a_check_that_failed_before_the_framework_raised_refutes_the_example(tmp_path):
    claim = case(tmp_path, "fails_then_raises", """
        @claim(title="t", statement="s", sources=[source("000", "q")], expected="refuted", examples=[{"a": 1}])
        def check(bk, p, ctx):
            ctx.equal("output size", 3, 4)
            x, w = ctx.array("x", (1, 2, 4)), ctx.array("w", (1, 1, 2))
            bk.conv(bk.asarray(x), bk.asarray(w))       # the framework (oracle) rejects the depth afterwards
    """)
    result = run_claim(claim, "numpy", examples=0)
    assert result.verdict == "refuted" and result.as_expected
    assert result.counterexample["failure"]["label"] == "output size"
    assert result.error["type"] == "equivcheck.oracle.OracleError"


def test_two_results_of_the_wrong_shape_are_a_failed_comparison_not_a_crash(tmp_path):
    claim = case(tmp_path, "wrong_shape", """
        @claim(title="t", statement="s", sources=[source("000", "q")], expected="refuted", examples=[{"a": 1}])
        def check(bk, p, ctx):
            x, w = ctx.array("x", (1, 1, 4)), ctx.array("w", (1, 1, 2))
            wrong = np.zeros((1, 1, 2))                  # both sides agree, on a shape the op does not give
            ctx.close("conv vs conv", wrong, wrong, magnitude=oracle.conv(abs(x), abs(w)), terms=2)
    """)
    result = run_claim(claim, "numpy", examples=0)
    assert result.verdict == "refuted"
    assert "is not the op's output shape (1, 1, 3)" in result.counterexample["failure"]["reason"]


def test_an_engine_with_costly_programs_draws_few_shapes_and_many_values(tmp_path, monkeypatch):
    from equivcheck.backends.numpy.adapter import NumpyBackend
    from equivcheck.runner import parameter_pool

    claim = case(tmp_path, "pool", """
        SEEN = []

        @claim(title="t", statement="s", sources=[source("003", "q")], expected="holds", examples=[{"n": 3}],
               space=st.fixed_dictionaries({"n": st.integers(1, 40)}))
        def check(bk, p, ctx):
            x, w = ctx.array("x", (1, 1, p.n)), ctx.array("w", (1, 1, 1))
            SEEN.append((p.n, float(x.sum())))
            ctx.matches("conv", bk.conv(bk.asarray(x), bk.asarray(w)), oracle.conv, x, w)
    """)
    seen = claim.body.__globals__["SEEN"]
    monkeypatch.setattr(NumpyBackend, "distinct_draws", 4)
    result = run_claim(claim, "numpy", examples=30, seed=5)
    assert result.verdict == "holds" and result.draws_run == 30
    drawn = seen[1:]  # after the fixed example
    assert len(drawn) == 30
    shapes = {n for n, _ in drawn}
    assert shapes <= {p["n"] for p in parameter_pool(claim.space, 4, 5)} and 1 <= len(shapes) <= 4, shapes
    assert len({total for _, total in drawn}) > 4 * 2  # the values differ between draws of one shape
    # a run of at most distinct_draws draws is the ordinary one
    seen.clear()
    run_claim(claim, "numpy", examples=4, seed=5)
    monkeypatch.setattr(NumpyBackend, "distinct_draws", None)
    ordinary = list(seen)
    seen.clear()
    run_claim(claim, "numpy", examples=4, seed=5)
    assert seen == ordinary
