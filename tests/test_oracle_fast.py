"""The speed strategies (equivcheck.oracle_fast) against the oracle's plain definition, bit for bit.

On integer-valued inputs of this size every partial sum is an integer below 2**53, so float64
addition is exact in any order: the GEMM strategies, their gather layouts and every chunk plan must
give exactly the plain contraction of the window view (``oracle._correlate``).  A wrong shift, a
wrong chunk boundary or a swapped axis changes some value by at least 1.
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from equivcheck import oracle as O
from equivcheck import oracle_fast as F

REPO = Path(__file__).resolve().parents[1]


def _ints(seed, shape):
    return np.random.default_rng(seed).integers(-4, 5, shape).astype(np.float64)


@pytest.fixture
def strategies(monkeypatch):
    """The names of the GEMM strategies the fast path ran."""
    seen = []
    for name in ("_gemm_shifted", "_gemm_im2col"):
        fn = getattr(F, name)

        def spy(*args, _fn=fn, _name=name, **kwargs):
            seen.append(_name)
            return _fn(*args, **kwargs)
        monkeypatch.setattr(F, name, spy)
    return seen


# (padded input shape, kernel shape, stride, dilation, groups, the strategy it reaches)
CASES = [
    ((2, 3, 11), (4, 3, 3), (1,), (1,), 1, "_gemm_im2col"),
    ((2, 4, 12), (6, 2, 5), (2,), (2,), 2, "_gemm_im2col"),             # positions-major gather
    ((1, 2, 9, 8), (3, 2, 3, 2), (2, 1), (1, 2), 1, "_gemm_im2col"),
    ((2, 4, 7, 9), (4, 1, 2, 3), (1, 1), (1, 1), 4, "_gemm_im2col"),     # depthwise
    ((1, 2, 6, 10, 14), (3, 2, 2, 2, 2), (1, 1, 1), (1, 1, 1), 1, "_gemm_shifted"),
    ((2, 4, 4, 10, 12), (4, 2, 2, 3, 2), (1, 1, 1), (2, 1, 2), 2, "_gemm_shifted"),
    ((1, 2, 5, 5, 12), (2, 2, 1, 2, 3), (1, 1, 1), (1, 1, 1), 1, "_gemm_shifted"),
    ((1, 2, 6, 10, 14), (3, 2, 2, 2, 2), (1, 2, 1), (1, 1, 1), 1, "_gemm_im2col"),
    ((1, 1, 3, 2, 2, 3), (2, 1, 2, 1, 1, 2), (1, 1, 1, 1), (1, 1, 1, 1), 1, "_gemm_shifted"),
]


@pytest.mark.parametrize("xs, ws, stride, dilation, groups, strategy", CASES)
@pytest.mark.parametrize("budget", [2**40, 3000, 1])      # one chunk, a few, one row each
def test_fast_correlate_is_the_definition_bit_for_bit(strategies, xs, ws, stride, dilation, groups,
                                                      strategy, budget):
    x, w = _ints(len(xs), xs), _ints(len(ws) + 7, ws)
    want = O._correlate(x, w, stride, dilation, groups)
    got = F.correlate(x, w, stride, dilation, groups, budget)
    assert got.dtype == want.dtype == np.float64
    np.testing.assert_array_equal(got, want)
    assert set(strategies) == {strategy}
    if budget == 1:
        assert len(strategies) > 1               # the chunking really ran


def test_definition_literal():
    """``_correlate`` itself, by hand: x = [1 2 3 4], w = [1 10], stride 2 -> [1 + 20, 3 + 40];
    two groups of one channel each keep the channels apart."""
    x = np.array([[[1., 2., 3., 4.], [5., 6., 7., 8.]]])
    w = np.array([[[1., 10.]], [[2., 0.]]])
    np.testing.assert_array_equal(O._correlate(x, w, (2,), (1,), 2), [[[21., 43.], [10., 14.]]])


def test_public_ops_use_the_fast_path(strategies):
    O.conv(np.ones((1, 1, 4)), np.ones((1, 1, 2)))
    assert strategies == ["_gemm_im2col"]


def test_fast_module_imports_no_framework():
    code = ("import sys, equivcheck.oracle_fast; "
            "bad = [m for m in ('torch', 'tensorflow', 'jax', 'flax', 'keras', 'onnx') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
