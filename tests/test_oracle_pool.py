"""Pooling in the oracle: ceil_mode, count_include_pad, dilation, pads beyond k//2.

Every expected value is worked out by hand in the comment beside it, from the definitions in
``oracle.pool_output_size`` / ``max_pool`` / ``avg_pool``: windows start at ``i*s - before`` (input
coordinates), tap ``j`` sits at ``start + j*d``; the padded input spans ``[-before, n + after)``;
with ceil_mode the last window may reach past it (the *overhang*).
"""
import numpy as np
import pytest

from equivcheck import oracle as O
from equivcheck.oracle import OracleError


def eq(got, want):
    np.testing.assert_array_equal(got, np.asarray(want, dtype=float))


def row(*v):
    return np.array([[list(map(float, v))]])


# ---------------------------------------------------------------- the output-size rule

@pytest.mark.parametrize("args, kw, want", [
    # n=5 k=2 s=2: free = 5 - 1 - 1 = 3; floor 3//2 + 1 = 2; ceil ceil(3/2) + 1 = 3, and the third
    # window starts at 4 < 5 (inside the input), so it stays
    ((5, 2), {}, 2),
    ((5, 2), {"ceil_mode": True}, 3),
    # n=5 k=2 s=2 p=1: free = 5 + 2 - 2 = 5; ceil(5/2) + 1 = 4, but window 4 would start at
    # 3*2 = 6 >= n + before = 6 (the right padding): dropped -> 3, the same as floor 5//2 + 1
    ((5, 2, 2, 1), {"ceil_mode": True}, 3),
    ((5, 2, 2, 1), {}, 3),
    # n=4 k=3 s=2 p=1: free = 4 + 2 - 3 = 3; floor 2, ceil 3 (start 4 < 5 stays)
    ((4, 3, 2, 1), {}, 2),
    ((4, 3, 2, 1), {"ceil_mode": True}, 3),
    # dilation 2, k=3 (span 5), n=8, s=2: free = 3; floor 2, ceil 3 (start 4 < 8)
    ((8, 3, 2, 0, 2), {}, 2),
    ((8, 3, 2, 0, 2), {"ceil_mode": True}, 3),
    # asymmetric pads (0, 2), k=1 s=1 n=1: free = 2, floor 3 windows; with ceil_mode the rule's
    # "starts in the right padding" test, 2*1 >= 1, drops the third: ceil_mode gives *fewer* here
    ((1, 1, 1, (0, 2)), {}, 3),
    ((1, 1, 1, (0, 2)), {"ceil_mode": True}, 2),
    # the kernel does not fit (n=1, k=3, stride defaults to 3): free = -2, (-2)//3 + 1 = 0 either way
    ((1, 3), {}, 0),
    ((1, 3), {"ceil_mode": True}, 0),
])
def test_pool_output_size(args, kw, want):
    assert O.pool_output_size(*args, **kw) == want


def test_pool_output_size_of_an_empty_input():
    # n = 0 is allowed: with p=1 and k=1 the padded length 2 holds two windows (free = 0 + 2 - 1 = 1)
    assert O.pool_output_size(0, 1, 1, 1) == 2
    # pads (0, 1), k=1: free = 0; floor gives 1 window, but with ceil_mode ceil(0) + 1 = 1 and
    # that window starts at 0 >= n + before = 0, in the right padding: dropped, 0 windows
    assert O.pool_output_size(0, 1, 1, (0, 1)) == 1
    assert O.pool_output_size(0, 1, 1, (0, 1), ceil_mode=True) == 0


@pytest.mark.parametrize("call, message", [
    (lambda: O.pool_output_size(4, 0), "pool_output_size: need n >= 0 and k >= 1 (got n=4, k=0)"),
    (lambda: O.pool_output_size(-1, 2), "pool_output_size: need n >= 0 and k >= 1 (got n=-1, k=2)"),
    (lambda: O.pool_output_size(4, 2, padding=(-1, 0)),
     "pool_output_size: negative padding [(-1, 0)] is not supported"),
    (lambda: O.pool_output_size(4, 2, stride=0),
     "pool_output_size: stride=0 must be >= 1 in every dim"),
    (lambda: O.pool_output_size(4, 2, dilation=0),
     "pool_output_size: dilation=0 must be >= 1 in every dim"),
    (lambda: O.pool_output_size(4, 2, stride="2"),
     "pool_output_size: stride='2' must be an int or a sequence of 1 ints"),
    (lambda: O.pool_output_size(4, 2, dilation="1"),
     "pool_output_size: dilation='1' must be an int or a sequence of 1 ints"),
])
def test_pool_output_size_bad_input(call, message):
    with pytest.raises(OracleError) as info:
        call()
    assert str(info.value) == message


# ---------------------------------------------------------------- max_pool

def test_max_pool_ceil_mode_1d_keeps_the_partial_window():
    # x = 1 5 2 8 3, k=2 s=2: windows [1 5] [2 8] and, with ceil_mode, [3 | overhang] -> 5 8 3
    x = row(1, 5, 2, 8, 3)
    eq(O.max_pool(x, 2), [[[5, 8]]])
    v, i = O.max_pool(x, 2, ceil_mode=True, return_indices=True)
    eq(v, [[[5, 8, 3]]])
    eq(i, [[[1, 3, 4]]])


def test_max_pool_ceil_mode_2d_indices():
    # 3×3 x = 1..9 row-major, k=2 s=2, ceil: windows at rows/cols {0, 2}: [[1 2][4 5]] -> 5,
    # [[3][6]] -> 6, [[7 8]] -> 8, [[9]] -> 9; flat indices 4, 5, 7, 8
    x = np.arange(1., 10.).reshape(1, 1, 3, 3)
    v, i = O.max_pool(x, 2, ceil_mode=True, return_indices=True)
    eq(v, [[[[5, 6], [8, 9]]]])
    eq(i, [[[[4, 5], [7, 8]]]])


def test_max_pool_ceil_mode_drops_a_window_starting_in_the_right_padding():
    # x = 1..5, k=2 s=2 p=1: padded -inf 1 2 3 4 5 -inf, windows start at -1, 1, 3:
    # [-inf 1] -> 1, [2 3] -> 3, [4 5] -> 5; the fourth would start at 5 (padding): dropped
    eq(O.max_pool(row(1, 2, 3, 4, 5), 2, padding=1, ceil_mode=True), [[[1, 3, 5]]])


def test_max_pool_dilation_with_ceil_mode():
    # x = 3 1 4 1 5 9, k=2 d=2 s=2 (span 3): free = 6 - 2 - 1 = 3 -> floor 2, ceil 3 windows at
    # 0, 2, 4 with taps (0, 2) (2, 4) (4, 6=overhang): max 4, 5, 5 at indices 2, 4, 4
    x = row(3, 1, 4, 1, 5, 9)
    eq(O.max_pool(x, 2, stride=2, dilation=2), [[[4, 5]]])
    v, i = O.max_pool(x, 2, stride=2, dilation=2, ceil_mode=True, return_indices=True)
    eq(v, [[[4, 5, 5]]])
    eq(i, [[[2, 4, 4]]])


def test_max_pool_pads_beyond_half_the_kernel():
    # PyTorch refuses pads > k//2; the oracle does not.  x = 1 5 2, k=3 s=1 p=2: padded
    # -inf -inf 1 5 2 -inf -inf, 5 windows: [-,-,1] 1, [-,1,5] 5, [1,5,2] 5, [5,2,-] 5, [2,-,-] 2
    v, i = O.max_pool(row(1, 5, 2), 3, stride=1, padding=2, return_indices=True)
    eq(v, [[[1, 5, 5, 5, 2]]])
    eq(i, [[[0, 1, 1, 1, 2]]])


def test_ceil_mode_drops_the_window_that_floor_mode_would_keep():
    # x = 1 2, k=2 s=2 pads (0, 2): free = 2 + 2 - 1 - 1 = 2; floor 2//2 + 1 = 2 windows, the
    # second [pad pad] (padding only); ceil: ceil(2/2) + 1 = 2, but (2-1)*2 = 2 >= n + before = 2
    # drops it -> 1 window [1 2]: max 2, average 1.5 (either divisor)
    x = row(1, 2)
    assert O.pool_output_size(2, 2, 2, (0, 2), ceil_mode=True) == 1
    eq(O.max_pool(x, 2, padding=[(0, 2)], ceil_mode=True), [[[2]]])
    eq(O.avg_pool(x, 2, padding=[(0, 2)], ceil_mode=True), [[[1.5]]])
    with pytest.raises(OracleError, match=r"windows lie entirely in the padding"):
        O.max_pool(x, 2, padding=[(0, 2)])


def test_a_window_of_padding_only_is_found_wherever_it_is():
    # x = 1 2 3, k=2 s=4 pads (0, 2): one window at 0, [1 2] -> 2, fine; the check must place the
    # windows at i*s - before (here before = 0, not the after pad 2, which would put it at -2)
    eq(O.max_pool(row(1, 2, 3), 2, stride=4, padding=[(0, 2)]), [[[2]]])
    # x = 1 2, k=2 s=2 pads (0, 2): windows at 0 and 2; the second is padding only
    with pytest.raises(OracleError, match=r"windows lie entirely in the padding in spatial dim 0"):
        O.max_pool(row(1, 2), 2, padding=[(0, 2)])


def test_max_pool_window_of_padding_only_raises():
    # x = 1 2, k=2 s=2 p=2: the first window covers -2, -1 (padding only): no defined maximum
    with pytest.raises(OracleError, match=r"max_pool: some windows lie entirely in the padding "
                                          r"in spatial dim 0 \(input shape \(1, 1, 2\)"):
        O.max_pool(row(1, 2), 2, padding=2)


# ---------------------------------------------------------------- avg_pool

def test_avg_pool_ceil_overhang_is_not_counted():
    # x = 1..5, k=2 s=2, no padding, ceil: [1 2] 1.5, [3 4] 3.5, [5 | overhang] 5/1 = 5 under
    # both divisor rules (the overhang is outside the padded input, so it never counts)
    x = row(1, 2, 3, 4, 5)
    eq(O.avg_pool(x, 2, ceil_mode=True), [[[1.5, 3.5, 5]]])
    eq(O.avg_pool(x, 2, ceil_mode=True, count_include_pad=False), [[[1.5, 3.5, 5]]])


def test_avg_pool_ceil_with_padding_counts_the_padding_but_not_the_overhang():
    # x = 1 2 3 4, k=3 s=2 p=1, ceil -> 3 windows starting at -1, 1, 3:
    #   taps -1 0 1 (pad, 1, 2):  sum 3; include: 3 taps in the padded input -> 1;   exclude: 3/2 = 1.5
    #   taps  1 2 3 (2, 3, 4):    sum 9; 3/3 -> 3 both
    #   taps  3 4 5 (4, pad, overhang): sum 4; include: taps 3, 4 lie in [-1, 5) -> 4/2 = 2
    #                                          (PyTorch: hend = min(3 + 3, 4 + 1) = 5, size 5 - 3 = 2);
    #                                          exclude: only tap 3 is input -> 4/1 = 4
    x = row(1, 2, 3, 4)
    eq(O.avg_pool(x, 3, stride=2, padding=1, ceil_mode=True), [[[1, 3, 2]]])
    eq(O.avg_pool(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
       [[[1.5, 3, 4]]])
    # floor mode: only the first two
    eq(O.avg_pool(x, 3, stride=2, padding=1), [[[1, 3]]])
    eq(O.avg_pool(x, 3, stride=2, padding=1, count_include_pad=False), [[[1.5, 3]]])


def test_avg_pool_ceil_drops_a_window_starting_in_the_right_padding():
    # x = 1..5, k=2 s=2 p=1: windows at -1, 1, 3: [pad 1] include 1/2 = 0.5, exclude 1;
    # [2 3] 2.5; [4 5] 4.5; none starting at 5 (right padding)
    x = row(1, 2, 3, 4, 5)
    eq(O.avg_pool(x, 2, padding=1, ceil_mode=True), [[[0.5, 2.5, 4.5]]])
    eq(O.avg_pool(x, 2, padding=1, ceil_mode=True, count_include_pad=False), [[[1, 2.5, 4.5]]])


def test_avg_pool_dilation():
    # x = 1..6, k=2 d=2 s=1: taps (i, i+2): (1+3)/2 (2+4)/2 (3+5)/2 (4+6)/2 = 2 3 4 5
    x = row(1, 2, 3, 4, 5, 6)
    eq(O.avg_pool(x, 2, stride=1, dilation=2), [[[2, 3, 4, 5]]])
    # with p=1: 6 windows, taps (-1,1) (0,2) (1,3) (2,4) (3,5) (4,6); -1 and 6 are padding:
    #   include: (0+2)/2 = 1, 2, 3, 4, 5, (5+0)/2 = 2.5;  exclude: 2/1 = 2, 2, 3, 4, 5, 5/1 = 5
    eq(O.avg_pool(x, 2, stride=1, padding=1, dilation=2), [[[1, 2, 3, 4, 5, 2.5]]])
    eq(O.avg_pool(x, 2, stride=1, padding=1, dilation=2, count_include_pad=False),
       [[[2, 2, 3, 4, 5, 5]]])


def test_avg_pool_2d_count_include_pad_both_ways():
    # x = [[1 2] [3 4]], k=2 s=1 p=1 -> 3×3 windows with top-left (r, c) in {-1, 0, 1}²:
    #   (-1,-1) sum 1 (1 input px)   (-1,0) 1+2=3 (2)   (-1,1) 2 (1)
    #   ( 0,-1) 1+3=4 (2)            ( 0,0) 10 (4)      ( 0,1) 2+4=6 (2)
    #   ( 1,-1) 3 (1)                ( 1,0) 3+4=7 (2)   ( 1,1) 4 (1)
    # include divides by 4 everywhere; exclude by the input-pixel count in brackets
    x = np.array([[[[1., 2.], [3., 4.]]]])
    eq(O.avg_pool(x, 2, stride=1, padding=1),
       [[[[0.25, 0.75, 0.5], [1, 2.5, 1.5], [0.75, 1.75, 1]]]])
    eq(O.avg_pool(x, 2, stride=1, padding=1, count_include_pad=False),
       [[[[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]]]])


def test_avg_pool_pads_beyond_half_the_kernel():
    # x = 2 4, k=2 s=1 p=2: padded 0 0 2 4 0 0, 5 windows: 0/2, 2/2, 6/2, 4/2, 0/2 = 0 1 3 2 0
    eq(O.avg_pool(row(2, 4), 2, stride=1, padding=2), [[[0, 1, 3, 2, 0]]])
    # excluding the padding, the first and last windows would be 0/0
    with pytest.raises(OracleError, match=r"avg_pool: some windows lie entirely in the padding .*"
                                          r"with count_include_pad=False their average is 0/0"):
        O.avg_pool(row(2, 4), 2, stride=1, padding=2, count_include_pad=False)


def test_avg_pool_same_padding_excludes_the_padding():
    # x = 1 2 3, k=2 s=1 'same': pads (0, 1); [1 2] 1.5, [2 3] 2.5, [3 pad] 3/1 = 3
    eq(O.avg_pool(row(1, 2, 3), 2, stride=1, padding="same", count_include_pad=False),
       [[[1.5, 2.5, 3]]])
    with pytest.raises(OracleError, match=r"avg_pool: padding='same' not supported"):
        O.avg_pool(row(1, 2, 3), 2, stride=1, padding="same")


def test_avg_pool_3d_ceil_and_padding():
    # all-ones 1×1×3×3×3 input, k=2 s=2 p=(0, 0, 1), ceil:
    #   dims 0, 1: windows at 0 and 2 -> taps {0,1} (2 inputs) and {2, overhang} (1 input)
    #   dim 2 with p=1: windows at -1 and 1 -> taps {pad, 0} (1 input of 2 padded) and {1, 2} (2)
    #   (ceil: free = 3 + 1 - 2 = 2, ceil(2/2) + 1 = 2; the next would start at 3 = n + before: none)
    # exclude: every average of ones is 1; include: sum / (count in the padded input), where the
    # padded count of dim 2 is 2 for both windows, so window (a, b, 0) = n_a·n_b·1 / (n_a·n_b·2) = 0.5
    x = np.ones((1, 1, 3, 3, 3))
    eq(O.avg_pool(x, 2, padding=[0, 0, 1], ceil_mode=True, count_include_pad=False),
       np.ones((1, 1, 2, 2, 2)))
    want = np.ones((1, 1, 2, 2, 2))
    want[..., 0] = 0.5
    eq(O.avg_pool(x, 2, padding=[0, 0, 1], ceil_mode=True), want)
