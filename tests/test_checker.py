"""ctx.matches / ctx.agree and the op → (magnitude, terms) table they stand on (equivcheck/op_bounds.py).

Every term count is checked against a number worked out by hand from the op's definition, and the
magnitude against Σ|x·w| summed by explicit loops."""
import math

import numpy as np
import pytest

from equivcheck import op_bounds, oracle, tolerance
from equivcheck.checker import Checker


def _ctx(dtype="float32"):
    return Checker(backend=None, dtype=dtype, compute_dtype=dtype, values="int", value_seed=0)


ONES = np.ones


@pytest.mark.parametrize("op, args, kwargs, count", [
    # conv: (I/groups)·prod(k) (+1 bias): 4 channels in 2 groups, 3×3 kernel → 2·9
    (oracle.conv, (ONES((2, 4, 7, 7)), ONES((6, 2, 3, 3))), {"groups": 2}, 18),
    (oracle.conv, (ONES((2, 4, 7, 7)), ONES((6, 2, 3, 3)), ONES(6)), {"groups": 2}, 19),
    (oracle.conv, (ONES((1, 3, 10)), ONES((5, 3, 4))), {"stride": 2, "padding": "same"}, 12),
    (oracle.convolve, (ONES((1, 3, 10)), ONES((5, 3, 4)), ONES(5)), {}, 13),
    # conv_transpose: I=4 in 2 groups, 3×3 → 2·9; a bias adds one term
    (oracle.conv_transpose, (ONES((1, 4, 3, 3)), ONES((4, 3, 3, 3))), {"stride": 2, "groups": 2}, 18),
    (oracle.conv_transpose, (ONES((1, 4, 3, 3)), ONES((4, 3, 3, 3)), ONES(6)), {"groups": 2}, 19),
    # input gradient: a conv_transpose of grad_out (O=6 channels, 2 groups) with the 3×3 kernel → 3·9
    (oracle.conv_input_grad, (ONES((1, 6, 3, 3)), ONES((6, 2, 3, 3)), (1, 4, 5, 5)), {"groups": 2}, 27),
    # weight gradient: N·prod(out) = 2 examples · 4 positions
    (oracle.conv_weight_grad, (ONES((2, 3, 6)), ONES((2, 4, 4)), (4, 3, 3)), {}, 8),
    # linear: in_features (+1 bias)
    (oracle.linear, (ONES((5, 3)), ONES((4, 3))), {}, 3),
    (oracle.linear, (ONES((2, 5, 3)), ONES((4, 3)), ONES(4)), {}, 4),
    # avg_pool: the window's prod(kernel) values
    (oracle.avg_pool, (ONES((1, 1, 4, 4)), 2), {}, 4),
    (oracle.avg_pool, (ONES((1, 1, 4, 6)), (2, 3)), {}, 6),
])
def test_terms_are_the_hand_counted_products(op, args, kwargs, count):
    assert op_bounds.terms(op, *args, **kwargs) == count


@pytest.mark.parametrize("op, args", [
    (oracle.max_pool, (ONES((1, 1, 4)), 2)),
    (oracle.max_unpool, (ONES((1, 1, 2)), np.array([[[0, 3]]]), (4,))),
    (oracle.pixel_shuffle, (ONES((1, 4, 2, 2)), 2)),
    (oracle.pixel_unshuffle, (ONES((1, 1, 4, 4)), 2)),
    (oracle.depth_to_space, (ONES((1, 4, 2, 2)), 2)),
    (oracle.space_to_depth, (ONES((1, 1, 4, 4)), 2)),
    (oracle.flip, (ONES((1, 1, 3)),)),
    (oracle.unfold, (ONES((1, 1, 4, 4)), 2)),
])
def test_data_movement_ops_are_exact(op, args):
    assert op_bounds.terms(op, *args) is None


def test_conv_terms_agree_with_tolerance_conv_terms_for_canonical_kernels():
    w = ONES((7, 3, 2, 5))
    assert op_bounds.terms(oracle.conv, ONES((1, 3, 4, 9)), w) == tolerance.conv_terms(w.shape) == 30


def test_magnitude_is_the_sum_of_absolute_products_counted_by_loops():
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(1, 2, 6)), rng.normal(size=(3, 2, 3)), rng.normal(size=3)
    loops = np.zeros((1, 3, 4))
    for o in range(3):
        for p in range(4):
            loops[0, o, p] = sum(abs(x[0, c, p + j] * w[o, c, j]) for c in range(2) for j in range(3)) + abs(b[o])
    np.testing.assert_allclose(op_bounds.magnitude(oracle.conv, x, w, b), loops, rtol=1e-14)


def test_magnitude_leaves_shape_arguments_alone():
    gy, w = -ONES((1, 2, 3)), -ONES((2, 1, 2))
    got = op_bounds.magnitude(oracle.conv_input_grad, gy, w, (1, 1, 4))
    np.testing.assert_array_equal(got, oracle.conv_input_grad(ONES((1, 2, 3)), ONES((2, 1, 2)), (1, 1, 4)))


def test_an_op_without_an_error_model_is_an_error_naming_it():
    with pytest.raises(ValueError, match="np.dot|dot is not an oracle op"):
        op_bounds.terms(np.dot, ONES(2), ONES(2))


def test_matches_uses_the_bound_a_hand_written_close_would():
    ctx = _ctx()
    x, w, b = ctx.array("x", (1, 2, 5)), ctx.array("w", (3, 2, 2)), ctx.array("b", (3,))
    got = oracle.conv(x, w, b) + 1e-6
    ctx.matches("conv", got, oracle.conv, x, w, b, stride=2)
    by_hand = tolerance.compare(got, oracle.conv(x, w, b, stride=2), magnitude=oracle.conv(abs(x), abs(w), abs(b),
                                stride=2), terms=5, dtype="float32", sides=1)
    assert ctx.checks[-1]["kind"] == "close"
    assert ctx.checks[-1]["bound"] == by_hand.bound and ctx.checks[-1]["ratio"] == by_hand.ratio


def test_matches_catches_a_relative_error_of_1e_3_in_float32():
    ctx = _ctx()
    x, w = ctx.array("x", (2, 3, 6, 6), kind="normal"), ctx.array("w", (4, 3, 3, 3), kind="normal")
    want = oracle.conv(x, w)
    assert ctx.matches("exact", want.astype(np.float32), oracle.conv, x, w)
    assert not ctx.matches("off by 1e-3", want * (1 + 1e-3), oracle.conv, x, w)
    assert [c["label"] for c in ctx.failures] == ["off by 1e-3"]


def test_matches_on_a_data_movement_op_is_bit_for_bit():
    ctx = _ctx()
    x = ctx.array("x", (1, 4, 2, 2))
    assert ctx.matches("shuffle", oracle.pixel_shuffle(x, 2), oracle.pixel_shuffle, x, 2)
    assert ctx.checks[-1]["kind"] == "identical"
    moved = oracle.pixel_shuffle(x, 2).copy()
    moved[0, 0, 0, 0] += 2.0 ** -40
    assert not ctx.matches("shuffle, one bit off", moved, oracle.pixel_shuffle, x, 2)


def test_agree_counts_both_sides():
    ctx = _ctx()
    x, w = ctx.array("x", (1, 2, 5)), ctx.array("w", (3, 2, 2))
    y = oracle.conv(x, w)
    one_side = tolerance.bound(oracle.conv(abs(x), abs(w)), 4, "float32", sides=1)
    off = y + 1.5 * one_side
    assert not ctx.matches("1.5 one-sided bounds off", off, oracle.conv, x, w)
    assert ctx.agree("within two sides", off, y, oracle.conv, x, w)
    assert ctx.checks[-1]["ratio"] == pytest.approx(ctx.checks[-2]["ratio"] / 2)
    assert not ctx.agree("beyond two sides", y + 2.5 * one_side, y, oracle.conv, x, w)


class _Tensor:
    def __init__(self, values):
        self.values = np.asarray(values, dtype=np.float32)


class _Backend:
    def asarray(self, array):
        return _Tensor(array)

    def to_numpy(self, tensor):
        return tensor.values.astype(np.float64)


def test_matches_takes_the_framework_tensors_of_ctx_tensor():
    ctx = Checker(backend=_Backend(), dtype="float32", compute_dtype="float32", values="normal", value_seed=3)
    x, w = ctx.tensor("x", (1, 2, 5)), ctx.tensor("w", (3, 2, 2))
    want = oracle.conv(ctx.arrays["x"], ctx.arrays["w"])
    assert ctx.matches("conv", _Tensor(want), oracle.conv, x, w)
    assert not ctx.matches("conv, wrong", _Tensor(want + math.pi), oracle.conv, x, w)


def test_alike_takes_the_larger_magnitude_and_the_most_terms_of_the_two_ops():
    ctx = _ctx()
    x, w = ctx.array("x", (1, 2, 6)), ctx.array("w", (3, 2, 3))
    # conv (2·3 = 6 terms) and a 2-wide average pool (2 terms) of another input: the bound is conv's
    v = ctx.array("v", (1, 3, 5))
    ops = ((oracle.conv, (x, w), {}), (oracle.avg_pool, (v, 2), {"stride": 1}))
    y = oracle.conv(x, w)
    magnitude = np.maximum(oracle.conv(abs(x), abs(w)), oracle.avg_pool(abs(v), 2, stride=1))
    by_hand = tolerance.compare(y + 1e-6, y, magnitude=magnitude, terms=6, dtype="float32", sides=2)
    ctx.alike("conv ~ pool", y + 1e-6, y, *ops)
    assert ctx.checks[-1]["bound"] == by_hand.bound and ctx.checks[-1]["ratio"] == by_hand.ratio
    # an op whose output has another shape stays out of the magnitude; its terms still count
    wide = ctx.array("wide", (1, 2, 9))
    ctx.alike("conv ~ conv of another length", y, y, (oracle.conv, (x, w), {}), (oracle.conv, (wide, w), {}))
    assert ctx.checks[-1]["ok"]
    one_side = tolerance.bound(oracle.conv(abs(x), abs(w)), 6, "float32", sides=1)
    assert not ctx.alike("3 one-sided bounds off", y + 3 * one_side, y, (oracle.conv, (x, w), {}), sides=1)


def test_fits_judges_without_recording():
    ctx = _ctx()
    x, w = ctx.array("x", (1, 2, 5)), ctx.array("w", (3, 2, 2))
    y = oracle.conv(x, w)
    one_side = tolerance.bound(oracle.conv(abs(x), abs(w)), 4, "float32", sides=2)
    assert ctx.fits(y + 0.5 * one_side, y, oracle.conv, x, w)
    assert not ctx.fits(y + 1.5 * one_side, y, oracle.conv, x, w)
    assert not ctx.fits(y[..., :-1], y, oracle.conv, x, w)  # another shape never fits
    shuffled = oracle.pixel_shuffle(ctx.array("s", (1, 4, 2, 2)), 2)
    bumped = shuffled.copy()
    bumped[0, 0, 0, 0] += 2.0 ** -40
    assert ctx.fits(shuffled, shuffled.copy(), oracle.pixel_shuffle, ctx.arrays["s"], 2)
    assert not ctx.fits(bumped, shuffled, oracle.pixel_shuffle, ctx.arrays["s"], 2)  # data movement: bit for bit
    assert ctx.checks == [] and ctx.facts == {}


def test_fact_outcome_records_what_the_framework_did_and_lets_harness_errors_through():
    from equivcheck.backends.base import NotApplicable

    ctx = _ctx()
    assert ctx.fact_outcome("runs", lambda: np.zeros((2, 3))) is True
    assert ctx.facts["runs"] == {"accepted": True, "output_shape": [2, 3]}

    # the NumPy engine's own refusal (raised in the oracle): a kernel longer than the input
    assert ctx.fact_outcome("refused", oracle.conv, np.ones((1, 1, 2)), np.ones((1, 1, 5)), flag="runs") is False
    assert ctx.facts["refused"]["runs"] is False and ctx.facts["refused"]["type"].endswith("OracleError")
    assert ctx.checks == []  # a fact, never a check

    def harness_bug():
        return undefined_name  # noqa: F821 - the case body's own error

    with pytest.raises(NameError):
        ctx.fact_outcome("bug", harness_bug)
    with pytest.raises(NotApplicable):
        ctx.fact_outcome("n/a", lambda: (_ for _ in ()).throw(NotApplicable("no such op")))
    assert "bug" not in ctx.facts and "n/a" not in ctx.facts


def test_an_example_derives_each_oracle_value_once_and_an_array_changed_in_place_is_a_new_argument():
    ctx = Checker(backend=None, dtype="float64", compute_dtype="float64", values="int")
    calls = []

    def op(x, k=1):
        calls.append(k)
        return x * k

    x = ctx.array("x", (2, 3))
    first = ctx._derived("value", op, (x,), {"k": 2})
    assert ctx._derived("value", op, (x,), {"k": 2}) is first and calls == [2]
    assert not first.flags.writeable                     # a shared result cannot be changed by one caller
    ctx._derived("value", op, (x,), {"k": 3})
    x[0, 0] += 1                                         # the same array object with other values
    assert ctx._derived("value", op, (x,), {"k": 2})[0, 0] == 2 * x[0, 0] and calls == [2, 3, 2]
    # an argument without a fingerprint (a dict) is computed every time
    for _ in range(2):
        ctx._derived("value", lambda x, opts: op(x), (x, {"a": 1}), {})
    assert calls == [2, 3, 2, 1, 1]


def test_a_second_comparison_with_the_same_op_records_what_the_first_did():
    from equivcheck import oracle

    ctx = Checker(backend=None, dtype="float32", compute_dtype="float32", values="normal", value_seed=1)
    x, w = ctx.array("x", (1, 2, 6)), ctx.array("w", (3, 2, 3))
    got = oracle.conv(x, w).astype(np.float32)
    ctx.matches("first", got, oracle.conv, x, w)
    ctx.matches("second", got, oracle.conv, x, w)
    first, second = ctx.checks
    assert first["ratio"] > 0 and {**first, "label": "second"} == second
