"""The oracle's padding modes, inference batch norm and circular correlation, and their error model.

Expected values are worked by hand in the comments (never produced by running the oracle).
"""
import numpy as np
import pytest

from equivcheck import op_bounds
from equivcheck import oracle as O
from equivcheck.checker import Checker
from equivcheck.oracle import OracleError


def eq(got, want):
    np.testing.assert_array_equal(got, np.asarray(want, dtype=float))


def row(*v):
    return np.array([[list(map(float, v))]])


# ---------------------------------------------------------------- pad

@pytest.mark.parametrize("pads, mode, want", [
    ((2, 1), "constant", [0, 0, 1, 2, 3, 0]),
    # reflect about the edge pixels, period 2(n-1) = 4: x[-1] = x[1] = 2, x[-2] = x[2] = 3,
    # x[3] = x[1] = 2, x[4] = x[0] = 1
    ((2, 2), "reflect", [3, 2, 1, 2, 3, 2, 1]),
    # pads beyond the size keep mirroring: x[-3] = x[1] = 2, x[-4] = x[0] = 1, x[-5] = x[-1] = 2;
    # x[5] = x[-1] = 2, x[6] = x[-2] = 3
    ((5, 4), "reflect", [2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3]),
    ((2, 2), "edge", [1, 1, 1, 2, 3, 3, 3]),
    ((5, 4), "edge", [1, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 3]),
    # wrap, period 3: x[-1] = x[2], x[-2] = x[1]; x[3] = x[0], x[4] = x[1]
    ((2, 2), "wrap", [2, 3, 1, 2, 3, 1, 2]),
    ((5, 4), "wrap", [2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1]),
    # symmetric repeats the edge pixel, period 2n = 6 (1 2 3 3 2 1): x[-1] = x[0], x[-2] = x[1]
    ((2, 2), "symmetric", [2, 1, 1, 2, 3, 3, 2]),
    # x[-3] = 3, x[-4] = 3, x[-5] = 2; x[3] = 3, x[4] = 2, x[5] = 1, x[6] = 1
    ((5, 4), "symmetric", [2, 3, 3, 2, 1, 1, 2, 3, 3, 2, 1, 1]),
])
def test_pad_modes_1d(pads, mode, want):
    eq(O.pad(row(1, 2, 3), [pads], mode), [[want]])


def test_pad_modes_2d_per_dim_pairs():
    x = np.array([[[[1., 2.], [3., 4.]]]])
    # edge, rows (1, 0) then cols (0, 1): the first row repeated above, the last column to the right
    eq(O.pad(x, [(1, 0), (0, 1)], "edge"), [[[[1, 2, 2], [1, 2, 2], [3, 4, 4]]]])
    # wrap, rows (1, 1): 3 4 | 1 2 / 3 4 | 1 2; cols (1, 0): the last column first
    eq(O.pad(x, [(1, 1), (1, 0)], "wrap"), [[[[4, 3, 4], [2, 1, 2], [4, 3, 4], [2, 1, 2]]]])
    # an int pads every side of every spatial dim
    eq(O.pad(x, 1, "constant"), [[[[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0], [0, 0, 0, 0]]]])


def test_pad_empty_dims():
    # zeros can always be added; nothing to add to an empty dim is fine in every mode
    eq(O.pad(np.zeros((1, 1, 0)), [(1, 1)], "constant"), [[[0, 0]]])
    assert O.pad(np.zeros((1, 1, 0)), [(0, 0)], "wrap").shape == (1, 1, 0)


def test_pad_size_one_reflect_repeats_the_pixel():
    # np.pad's reflection of a single pixel is the pixel itself, however far
    eq(O.pad(row(5), [(2, 2)], "reflect"), [[[5, 5, 5, 5, 5]]])


PAD_ERRORS = [
    (lambda: O.pad(row(1, 2), [(1, 1)], "replicate"),
     "pad: mode='replicate' is not one of constant, reflect, edge, wrap, symmetric (NumPy's names)"),
    (lambda: O.pad(row(1, 2), [(-1, 0)], "edge"), "pad: negative padding [(-1, 0)] is not supported"),
    (lambda: O.pad(np.zeros((1, 1, 0)), [(1, 0)], "wrap"),
     "pad: mode='wrap' cannot extend the empty spatial dim 0 (input shape (1, 1, 0))"),
    (lambda: O.pad(np.zeros((1, 1, 0)), [(0, 1)], "edge"),
     "pad: mode='edge' cannot extend the empty spatial dim 0 (input shape (1, 1, 0))"),
    (lambda: O.pad(np.zeros((1, 3)), [(1, 0)]), "pad: input must be (N, C, *spatial), got shape (1, 3)"),
    (lambda: O.pad(np.ones((1, 1, 2), complex), 1), "pad: x is complex; the oracle is real float64 only"),
    (lambda: O.pad(row(1, 2), [(1, 0), (1, 0)]),
     "pad: padding=[(1, 0), (1, 0)] must be an int, 1 ints or 1 (before, after) pairs (one per "
     "spatial dim)"),
]


# ---------------------------------------------------------------- batch_norm

def test_batch_norm_inference():
    # x (2, 2, 1); channel 0 has mean 1, var 3 (sqrt(3 + 1) = 2), gamma 2, beta 0:
    #   (1 - 1)/2*2 = 0, (5 - 1)/2*2 = 4
    # channel 1 has mean 2, var 0 (sqrt(0 + 1) = 1), gamma 1, beta 1: (4 - 2) + 1 = 3, (-2 - 2) + 1 = -3
    x = np.array([[[1.], [4.]], [[5.], [-2.]]])
    args = ([1., 2.], [3., 0.], [2., 1.], [0., 1.], 1.0)
    eq(O.batch_norm(x, *args), [[[0.], [3.]], [[4.], [-3.]]])
    eq(O.batch_norm(np.array([[1., 4.]]), *args), [[0., 3.]])        # (N, C) as well


BATCH_NORM_ERRORS = [
    (lambda: O.batch_norm(np.ones((1, 2, 3)), [0.], [1., 1.], [1., 1.], [0., 0.], 0.1),
     "batch_norm: mean shape (1,) != (2,) for input shape (1, 2, 3)"),
    (lambda: O.batch_norm(np.ones((1, 2, 3)), [0., 0.], [1.], [1., 1.], [0., 0.], 0.1),
     "batch_norm: var shape (1,) != (2,) for input shape (1, 2, 3)"),
    (lambda: O.batch_norm(np.ones((1, 2, 3)), [0., 0.], [1., 1.], [1.], [0., 0.], 0.1),
     "batch_norm: gamma shape (1,) != (2,) for input shape (1, 2, 3)"),
    (lambda: O.batch_norm(np.ones((1, 2, 3)), [0., 0.], [1., 1.], [1., 1.], [0.], 0.1),
     "batch_norm: beta shape (1,) != (2,) for input shape (1, 2, 3)"),
    (lambda: O.batch_norm(np.ones((1, 1, 3), complex), [0.], [1.], [1.], [0.], 0.1),
     "batch_norm: x is complex; the oracle is real float64 only"),
    (lambda: O.batch_norm(np.ones((1, 1, 3)), [0.], [1j], [1.], [0.], 0.1),
     "batch_norm: var is complex; the oracle is real float64 only"),
    (lambda: O.batch_norm(np.ones((1, 1, 3)), [0.], [-1.], [1.], [0.], 0.1),
     "batch_norm: var must be >= 0 with var + eps > 0 (var [-1.0], eps 0.1)"),
    (lambda: O.batch_norm(np.ones((1, 1, 3)), [0.], [0.], [1.], [0.], 0.0),
     "batch_norm: var must be >= 0 with var + eps > 0 (var [0.0], eps 0.0)"),
    (lambda: O.batch_norm(np.ones((1, 1, 3)), [0.], [1.], [1.], [0.], -1e-5),
     "batch_norm: eps=-1e-05 must be finite and >= 0"),
    (lambda: O.batch_norm(np.ones(3), [0.], [1.], [1.], [0.], 0.1),
     "batch_norm: input must be (N, C, *spatial), got shape (3,)"),
]


# ---------------------------------------------------------------- circular_correlation

def test_circular_correlation_by_hand():
    # 1-D, k = N = 3: y[i] = x[i] + 10 x[i+1] + 100 x[i+2] (mod 3) for x = 1 2 3:
    #   y0 = 1 + 20 + 300 = 321, y1 = 2 + 30 + 100 = 132, y2 = 3 + 10 + 200 = 213
    eq(O.circular_correlation(row(1, 2, 3), np.array([[[1., 10., 100.]]])), [[[321, 132, 213]]])
    # 2-D: w = [[1 0] [0 10]]: y[i, j] = x[i, j] + 10 x[i+1, j+1] (mod 2) for x = [[1 2] [3 4]]:
    #   41, 2 + 30 = 32, 3 + 20 = 23, 4 + 10 = 14
    x = np.array([[[[1., 2.], [3., 4.]]]])
    eq(O.circular_correlation(x, np.array([[[[1., 0.], [0., 10.]]]])), [[[[41, 32], [23, 14]]]])
    # channels are summed and the bias added: 2·[1 0 0] + 3·[0 1 0] + 1 = 3 4 1
    x = np.array([[[1., 0., 0.], [0., 1., 0.]]])
    eq(O.circular_correlation(x, np.array([[[2.], [3.]]]), np.array([1.])), [[[3, 4, 1]]])


CIRCULAR_ERRORS = [
    (lambda: O.circular_correlation(row(1, 2), np.ones((1, 1, 3))),
     "circular_correlation: kernel size 3 exceeds the input size 2 in spatial dim 0 (input shape "
     "(1, 1, 2), kernel shape (1, 1, 3)); an N-point circular correlation has at most N taps"),
    (lambda: O.circular_correlation(row(1, 2), np.ones((1, 2, 1))),
     "circular_correlation: input has 1 channels but kernel expects 2 per group × groups=1 (input "
     "shape (1, 1, 2), kernel shape (1, 2, 1))"),
    (lambda: O.circular_correlation(row(1, 2), np.ones((1, 1, 1, 1))),
     "circular_correlation: rank mismatch: input shape (1, 1, 2) has 1 spatial dims but kernel "
     "shape (1, 1, 1, 1) has 2"),
    (lambda: O.circular_correlation(row(1, 2) * 1j, np.ones((1, 1, 1))),
     "circular_correlation: x is complex; the oracle is real float64 only"),
    (lambda: O.circular_correlation(row(1, 2), np.ones((1, 1, 1)) * 1j),
     "circular_correlation: w is complex; the oracle is real float64 only"),
    (lambda: O.circular_correlation(row(1, 2), np.ones((1, 1, 1)), np.ones(1) * 1j),
     "circular_correlation: b is complex; the oracle is real float64 only"),
    (lambda: O.circular_correlation(row(1, 2), np.ones((1, 1, 1)), np.ones(2)),
     "circular_correlation: bias shape (2,) != (1,) for kernel shape (1, 1, 1)"),
]


@pytest.mark.parametrize("call, message", PAD_ERRORS + BATCH_NORM_ERRORS + CIRCULAR_ERRORS)
def test_bad_input_gets_a_one_line_error_naming_op_and_argument(call, message):
    with pytest.raises(OracleError) as info:
        call()
    assert str(info.value) == message


# ---------------------------------------------------------------- their error model

def test_new_ops_terms():
    # avg_pool: prod(kernel) whatever the divisor (a window sums at most that many inputs)
    assert op_bounds.terms(O.avg_pool, np.ones((1, 1, 5)), 2, count_include_pad=False) == 2
    assert op_bounds.terms(O.avg_pool, np.ones((1, 1, 5, 5)), (2, 3), dilation=2, ceil_mode=True) == 6
    # circular correlation: C·prod(k) (+1 bias), as conv: 2 channels × 3 taps
    x, w = np.ones((1, 2, 5)), np.ones((3, 2, 3))
    assert op_bounds.terms(O.circular_correlation, x, w) == 6
    assert op_bounds.terms(O.circular_correlation, x, w, np.ones(3)) == 7
    assert op_bounds.terms(O.batch_norm, np.ones((1, 1, 2)), [0.], [1.], [1.], [0.], 0.1) == 4
    assert op_bounds.terms(O.pad, np.ones((1, 1, 2)), 1, "reflect") is None
    assert op_bounds.terms(O.max_pool, np.ones((1, 1, 5)), 2, ceil_mode=True) is None


def test_new_ops_magnitudes():
    # avg_pool excluding the padding: |x| = 1 2 3 averaged over the in-bounds taps of k=2 s=1 p=1:
    #   [pad 1] 1/1, [1 2] 3/2, [2 3] 5/2, [3 pad] 3/1
    mag = op_bounds.magnitude(O.avg_pool, row(-1, 2, -3), 2, stride=1, padding=1,
                              count_include_pad=False)
    eq(mag, [[[1, 1.5, 2.5, 3]]])
    # batch_norm: (|x| + |mean|)·|gamma|/sqrt(var + eps) + |beta| = (3 + 1)·2/2 + 0.5 = 4.5
    mag = op_bounds.magnitude(O.batch_norm, np.array([[[-3.]]]), [1.], [3.], [-2.], [0.5], 1.0)
    eq(mag, [[[4.5]]])
    # circular correlation: the op on |x|, |w|: |x| = 1 2 3, |w| = 1 1 -> 1+2, 2+3, 3+1
    mag = op_bounds.magnitude(O.circular_correlation, row(1, -2, 3), np.array([[[-1., 1.]]]))
    eq(mag, [[[3, 5, 4]]])


def _ctx():
    return Checker(backend=None, dtype="float32", compute_dtype="float32", values="int", value_seed=0)


def test_matches_derives_the_bound_for_avg_pool_without_padding_count():
    x = np.random.default_rng(0).standard_normal((2, 3, 7)).astype(np.float32).astype(float)
    kw = dict(stride=2, padding=1, count_include_pad=False, ceil_mode=True)
    exact = O.avg_pool(x, 2, **kw)
    ctx = _ctx()
    assert ctx.matches("float32 result", exact.astype(np.float32), O.avg_pool, x, 2, **kw)
    assert not ctx.matches("off by 1e-4", exact + 1e-4, O.avg_pool, x, 2, **kw)


def test_matches_derives_the_bound_for_batch_norm():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    mean, gamma, beta = (rng.standard_normal(3).astype(np.float32) for _ in range(3))
    var = rng.uniform(0.5, 2, 3).astype(np.float32)
    eps = np.float32(1e-5)
    # float32 in the folded form frameworks use: x·scale + (beta - mean·scale)
    scale = gamma / np.sqrt(var + eps)
    got = x * scale.reshape(3, 1) + (beta - mean * scale).reshape(3, 1)
    assert got.dtype == np.float32
    args = (x, mean, var, gamma, beta, float(eps))
    ctx = _ctx()
    assert ctx.matches("folded float32", got, O.batch_norm, *args)
    assert not ctx.matches("off by 1e-4", O.batch_norm(*args) + 1e-4, O.batch_norm, *args)
