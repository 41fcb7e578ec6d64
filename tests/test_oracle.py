"""Tests for equivcheck.oracle, the NumPy float64 reference.

The oracle is pinned by literal, hand-computed values (the arithmetic is in
the comments), never by a framework.  Identities between different oracle
functions (adjointness, inverses, unfold-GEMM) and a direct-sum definition
written out below are extra checks on top of the literals.
"""

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from equivcheck import oracle as O
from equivcheck import oracle_fast
from equivcheck.oracle import OracleError

REPO = Path(__file__).resolve().parents[1]


def a(rows):
    """Float64 array literal."""
    return np.array(rows, dtype=np.float64)


def eq(got, want):
    """Exact comparison: every literal below is exactly representable."""
    want = np.asarray(want, dtype=np.float64)
    assert got.dtype == np.float64
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got, want)


X5 = np.array([[[1., 2., 3., 4., 5.]]])   # (1, 1, 5)
W123 = np.array([[[1., 2., 3.]]])          # (1, 1, 3)
X33 = np.array([[[[1., 2., 3.], [4., 5., 6.], [7., 8., 9.]]]])   # (1, 1, 3, 3)
X44 = np.arange(16.).reshape(1, 1, 4, 4)  # rows [0..3], [4..7], [8..11], [12..15]


# ---------------------------------------------------------------- shapes

def test_conv_output_size_formula():
    # floor((227 + 0 - 1*(11-1) - 1) / 4) + 1 = floor(216/4) + 1 = 55  (AlexNet conv1)
    assert O.conv_output_size(227, 11, stride=4, padding=0) == 55
    # floor((5 + 2 - 2 - 1) / 2) + 1 = 2 + 1 = 3
    assert O.conv_output_size(5, 3, stride=2, padding=1) == 3
    # pair: floor((4 + 0 + 1 - 2 - 1) / 2) + 1 = 1 + 1 = 2
    assert O.conv_output_size(4, 3, stride=2, padding=(0, 1)) == 2
    # dilation 2: effective kernel 2*(3-1)+1 = 5; floor((7 - 5) / 1) + 1 = 3
    assert O.conv_output_size(7, 3, dilation=2) == 3
    # 'same' -> ceil(n / s) = ceil(4/2) = 2 ; ceil(7/3) = 3 ; 'valid' = padding 0
    assert O.conv_output_size(4, 3, stride=2, padding="same") == 2
    assert O.conv_output_size(7, 4, stride=3, padding="same") == 3
    assert O.conv_output_size(7, 3, padding="valid") == 5
    # kernel does not fit: floor((2 - 4 - 1)/1) + 1 = -3 + 1 = -2 (reported, not raised)
    assert O.conv_output_size(2, 5) == -2


def test_conv_transpose_output_size_formula():
    # (n-1)*s - 2p + d*(k-1) + op + 1 with n=3, k=3, s=2
    assert O.conv_transpose_output_size(3, 3, stride=2, padding=0) == 7   # 4 - 0 + 2 + 0 + 1
    assert O.conv_transpose_output_size(3, 3, 2, 0, output_padding=1) == 8
    assert O.conv_transpose_output_size(3, 3, stride=2, padding=1) == 5   # 4 - 2 + 2 + 0 + 1
    assert O.conv_transpose_output_size(3, 3, 2, 1, output_padding=1) == 6
    # pair (before, after) = (0, 1): 4 - 1 + 2 + 1 = 6
    assert O.conv_transpose_output_size(3, 3, 2, (0, 1)) == 6


def test_same_padding_tf_semantics():
    # n=4, k=3, s=2: out = ceil(4/2) = 2, total = (2-1)*2 + 1*(3-1) + 1 - 4 = 1 -> (0, 1)
    assert O.same_padding(4, 3, 2) == (0, 1)
    # n=5, k=3, s=1: total = 4 + 2 + 1 - 5 = 2 -> (1, 1)
    assert O.same_padding(5, 3) == (1, 1)
    # n=5, k=4, s=1: total = 4 + 3 + 1 - 5 = 3 -> (1, 2): odd pixel at the end
    assert O.same_padding(5, 4) == (1, 2)
    # n=7, k=3, s=2, d=2: out = 4, total = 3*2 + 2*2 + 1 - 7 = 4 -> (2, 2)
    assert O.same_padding(7, 3, stride=2, dilation=2) == (2, 2)
    # n=5, k=1, s=3: total = (2-1)*3 + 0 + 1 - 5 = -1 -> max(., 0) = 0
    assert O.same_padding(5, 1, 3) == (0, 0)


# ---------------------------------------------------------------- conv 1-D

def test_conv1d_basic_bias_stride_dilation():
    # out[i] = 1*x[i] + 2*x[i+1] + 3*x[i+2]
    # i=0: 1+4+9 = 14; i=1: 2+6+12 = 20; i=2: 3+8+15 = 26
    eq(O.conv(X5, W123), [[[14, 20, 26]]])
    eq(O.conv(X5, W123, np.array([1.])), [[[15, 21, 27]]])
    # stride 2 keeps i = 0, 2
    eq(O.conv(X5, W123, stride=2), [[[14, 26]]])
    # dilation 2: taps x[0], x[2], x[4]: 1*1 + 2*3 + 3*5 = 22 (single output)
    eq(O.conv(X5, W123, dilation=2), [[[22]]])
    # integer and list inputs are accepted and computed in float64
    eq(O.conv([[[1, 2, 3, 4, 5]]], [[[1, 2, 3]]]), [[[14, 20, 26]]])


def test_conv1d_explicit_pair_padding():
    # padding [(1, 2)]: xp = [0, 1, 2, 3, 4, 5, 0, 0], 8 - 3 + 1 = 6 outputs
    # 0+2+6=8, 1+4+9=14, 2+6+12=20, 3+8+15=26, 4+10+0=14, 5+0+0=5
    eq(O.conv(X5, W123, padding=[(1, 2)]), [[[8, 14, 20, 26, 14, 5]]])
    # symmetric int 1 -> (1, 1): [0+2+6, 14, 20, 26, 4+10+0] = [8, 14, 20, 26, 14]
    eq(O.conv(X5, W123, padding=1), [[[8, 14, 20, 26, 14]]])
    eq(O.conv(X5, W123, padding=[1]), [[[8, 14, 20, 26, 14]]])


def test_conv1d_same_even_input_stride2_pads_at_end():
    # n=4, k=3, s=2 -> pads (0, 1): xp = [1, 2, 3, 4, 0]
    # out0 = 1*1 + 2*2 + 3*3 = 14 ; out1 (start 2) = 1*3 + 2*4 + 3*0 = 11
    # (front padding (1, 0) would give [0+2+6, 2+6+12] = [8, 20] instead)
    x = np.array([[[1., 2., 3., 4.]]])
    eq(O.conv(x, W123, stride=2, padding="same"), [[[14, 11]]])
    eq(O.conv(x, W123, stride=2, padding="SAME"), [[[14, 11]]])
    eq(O.conv(x, W123, stride=2, padding=[(0, 1)]), [[[14, 11]]])
    # stride 1: pads (1, 1) -> [0+2+6, 1+4+9, 2+6+12, 3+8+0] = [8, 14, 20, 11]
    eq(O.conv(x, W123, padding="same"), [[[8, 14, 20, 11]]])
    eq(O.conv(x, W123, padding="valid"), [[[14, 20]]])


def test_conv1d_groups():
    # channels [1,2], [3,4], [5,6], [7,8]; groups=2, w (2, 2, 1)
    # out0 = ch0 + ch1 = [4, 6] ; out1 = ch2 - ch3 = [-2, -2]
    x = np.array([[[1., 2.], [3., 4.], [5., 6.], [7., 8.]]])
    w = np.array([[[1.], [1.]], [[1.], [-1.]]])
    eq(O.conv(x, w, groups=2), [[[4, 6], [-2, -2]]])


def test_conv1d_depthwise_multiplier_2():
    # groups = C = 2, 4 output channels: 0,1 read ch0; 2,3 read ch1
    # o0 = [1+2, 2+3] = [3, 5]          (w0 = [1, 1])
    # o1 = [1-2, 2-3] = [-1, -1]        (w1 = [1, -1])
    # o2 = [2*10, 2*20] = [20, 40]      (w2 = [2, 0])
    # o3 = [20, 30]                     (w3 = [0, 1])
    x = np.array([[[1., 2., 3.], [10., 20., 30.]]])
    w = np.array([[[1., 1.]], [[1., -1.]], [[2., 0.]], [[0., 1.]]])
    eq(O.conv(x, w, groups=2), [[[3, 5], [-1, -1], [20, 40], [20, 30]]])


# ---------------------------------------------------------------- conv 2-D / 3-D

def test_conv2d_basic():
    # w = [[1,2],[3,4]]: out[i,j] = x[i,j] + 2x[i,j+1] + 3x[i+1,j] + 4x[i+1,j+1]
    # (0,0): 1+4+12+20 = 37 ; (0,1): 2+6+15+24 = 47
    # (1,0): 4+10+21+32 = 67 ; (1,1): 5+12+24+36 = 77
    w = a([[1, 2], [3, 4]])[None, None]
    eq(O.conv(X33, w), [[[[37, 47], [67, 77]]]])


def test_conv2d_channels_and_bias():
    # in ch0 = X33, ch1 = ones; out0 = conv(ch0, [[1,2],[3,4]]) + conv(ch1, ones) = 37.. + 4
    # out1 = conv(ch0, 0) + conv(ch1, [[0,0],[0,2]]) = 2 everywhere; bias [10, -1]
    # out0 = [[41, 51], [71, 81]] + 10 ; out1 = 2 - 1 = 1
    x = np.concatenate([X33, np.ones((1, 1, 3, 3))], axis=1)
    w = np.array([[[[1., 2.], [3., 4.]], [[1., 1.], [1., 1.]]],
                  [[[0., 0.], [0., 0.]], [[0., 0.], [0., 2.]]]])
    eq(O.conv(x, w, np.array([10., -1.])),
       [[[[51, 61], [81, 91]], [[1, 1], [1, 1]]]])


def test_conv2d_stride2_padding1():
    # 3x3 ones kernel on X33 zero-padded to 5x5, stride 2 -> 2x2 (floor((5-3)/2)+1 = 2)
    # (0,0): 1+2+4+5 = 12 ; (0,1): 2+3+5+6 = 16 ; (1,0): 4+5+7+8 = 24 ; (1,1): 5+6+8+9 = 28
    eq(O.conv(X33, np.ones((1, 1, 3, 3)), stride=2, padding=1), [[[[12, 16], [24, 28]]]])


def test_conv2d_dilation():
    # X44 = arange(16) 4x4, w = [[1,2],[3,4]], dilation 2 (span 3) -> 2x2
    # (0,0): 1*0 + 2*2 + 3*8 + 4*10 = 68 ; (0,1): 1 + 6 + 27 + 44 = 78
    # (1,0): 4 + 12 + 36 + 56 = 108      ; (1,1): 5 + 14 + 39 + 60 = 118
    w = a([[1, 2], [3, 4]])[None, None]
    eq(O.conv(X44, w, dilation=2), [[[[68, 78], [108, 118]]]])


def test_conv2d_per_dim_stride():
    # 2x2 ones kernel, stride (1, 2) on X44 -> (3, 2); out[i,j] = sum x[i:i+2, 2j:2j+2]
    # row 0: 0+1+4+5 = 10, 2+3+6+7 = 18 ; row 1: 26, 34 ; row 2: 8+9+12+13 = 42, 50
    eq(O.conv(X44, np.ones((1, 1, 2, 2)), stride=(1, 2)), [[[[10, 18], [26, 34], [42, 50]]]])


def test_conv2d_pair_padding_and_same():
    # X33 with 2x2 ones, padding ((0, 1), (1, 0)) -> padded rows [r0, r1, r2, 0], cols [0|c0..c2]
    # padded = [[0,1,2,3],[0,4,5,6],[0,7,8,9],[0,0,0,0]] -> 3x3 of 2x2 window sums
    # row0: 0+1+0+4=5, 1+2+4+5=12, 2+3+5+6=16 ; row1: 0+4+0+7=11, 24, 28 ; row2: 7, 15, 17
    eq(O.conv(X33, np.ones((1, 1, 2, 2)), padding=[(0, 1), (1, 0)]),
       [[[[5, 12, 16], [11, 24, 28], [7, 15, 17]]]])
    # 'same' with k=2, s=1, n=3: total 1 -> (0, 1) per dim: bottom/right padding
    # padded = [[1,2,3,0],[4,5,6,0],[7,8,9,0],[0,0,0,0]]
    # row0: 12, 16, 9 ; row1: 24, 28, 15 ; row2: 7+8=15, 17, 9
    eq(O.conv(X33, np.ones((1, 1, 2, 2)), padding="same"),
       [[[[12, 16, 9], [24, 28, 15], [15, 17, 9]]]])


def test_conv3d_tiny():
    # x[a,b,c] = 4a + 2b + c (values 0..7), w = 1..8 in the same order:
    # sum_i i*(i+1) = 0+2+6+12+20+30+42+56 = 168
    x = np.arange(8.).reshape(1, 1, 2, 2, 2)
    w = np.arange(1., 9.).reshape(1, 1, 2, 2, 2)
    eq(O.conv(x, w), [[[[[168]]]]])
    # ones 2x2x2 kernel, padding 1 -> 3x3x3; each output sums the x entries in its window
    out = O.conv(x, np.ones((1, 1, 2, 2, 2)), padding=1)
    assert out.shape == (1, 1, 3, 3, 3)
    assert out[0, 0, 0, 0, 0] == 0      # only x[0,0,0] = 0
    assert out[0, 0, 2, 2, 2] == 7      # only x[1,1,1] = 7
    assert out[0, 0, 1, 1, 1] == 28     # all of x: 0+1+...+7
    assert out[0, 0, 1, 1, 0] == 12     # x[:, :, 0] = 0 + 2 + 4 + 6


def test_convolve_is_conv_with_flipped_kernel():
    # true convolution: out[i] = sum_j x[i+j] * w[2-j]
    # i=0: 1*3 + 2*2 + 3*1 = 10 ; i=1: 2*3+3*2+4*1 = 16 ; i=2: 3*3+4*2+5*1 = 22
    eq(O.convolve(X5, W123), [[[10, 16, 22]]])
    eq(O.flip(W123), [[[3, 2, 1]]])
    eq(O.conv(X5, O.flip(W123)), [[[10, 16, 22]]])
    # flip reverses all spatial axes (180° rotation in 2-D)
    eq(O.flip(a([[1, 2], [3, 4]])[None, None]), [[[[4, 3], [2, 1]]]])
    # agrees with NumPy's own 1-D convolution (independent of the oracle)
    eq(O.convolve(X5, W123)[0, 0], np.convolve([1, 2, 3, 4, 5], [1, 2, 3], "valid"))


# ---------------------------------------------------------------- conv_transpose

def test_conv_transpose_1d_stride2_output_padding():
    # scatter definition: full[i*s + j] += x[i] * w[j], x = [1,2,3], w = [1,2,4], s = 2
    # i=0 -> [1,2,4,0,0,0,0]; i=1 adds [2,4,8] at 2..4; i=2 adds [3,6,12] at 4..6
    # full = [1, 2, 6, 4, 11, 6, 12]  (size (3-1)*2 + (3-1) + 1 = 7)
    x, w = np.array([[[1., 2., 3.]]]), np.array([[[1., 2., 4.]]])
    eq(O.conv_transpose(x, w, stride=2), [[[1, 2, 6, 4, 11, 6, 12]]])
    # output_padding 1 appends one position at the end (size 8) that nothing reaches
    eq(O.conv_transpose(x, w, stride=2, output_padding=1), [[[1, 2, 6, 4, 11, 6, 12, 0]]])
    # padding 1 crops one on each side of full: size 5
    eq(O.conv_transpose(x, w, stride=2, padding=1), [[[2, 6, 4, 11, 6]]])
    # padding 1 + output_padding 1: full[1:7] = size 6 (op extends the end)
    eq(O.conv_transpose(x, w, stride=2, padding=1, output_padding=1), [[[2, 6, 4, 11, 6, 12]]])
    # explicit pairs (0, 1): full[0:6]
    eq(O.conv_transpose(x, w, stride=2, padding=[(0, 1)]), [[[1, 2, 6, 4, 11, 6]]])
    # bias
    eq(O.conv_transpose(x, w, np.array([1.]), stride=2, padding=1), [[[3, 7, 5, 12, 7]]])


def test_conv_transpose_kernel_layout_in_out():
    # w is (I=1, O=2, k=2): w[0,0] = [1,1], w[0,1] = [1,-1]; x = [1, 2]
    # o0 = [1, 1+2, 2] = [1, 3, 2] ; o1 = [1, -1+2, -2] = [1, 1, -2]
    x = np.array([[[1., 2.]]])
    w = np.array([[[1., 1.], [1., -1.]]])
    eq(O.conv_transpose(x, w), [[[1, 3, 2], [1, 1, -2]]])


def test_conv_transpose_groups():
    # x ch0 = [1, 2], ch1 = [3, 4]; w (I=2, O/g=1, 2), groups=2
    # o0 from ch0 with [1, 1]: [1, 1+2, 2] = [1, 3, 2]
    # o1 from ch1 with [1, -1]: [3, -3+4, -4] = [3, 1, -4]
    x = np.array([[[1., 2.], [3., 4.]]])
    w = np.array([[[1., 1.]], [[1., -1.]]])
    eq(O.conv_transpose(x, w, groups=2), [[[1, 3, 2], [3, 1, -4]]])


def test_conv_transpose_2d_stride2_block_expansion():
    # ones 2x2 kernel, stride 2: each input pixel becomes a 2x2 block
    x = a([[1, 2], [3, 4]])[None, None]
    eq(O.conv_transpose(x, np.ones((1, 1, 2, 2)), stride=2),
       [[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]])


def test_conv_transpose_dilation():
    # x = [1, 2], w = [1, 2], d = 2: full[i + 2j] += x[i] w[j]; size (2-1) + 2*1 + 1 = 4
    # i=0 -> [1, 0, 2, 0]; i=1 adds 2*[1, 2] at 1, 3 -> [1, 2, 2, 4]
    x, w = np.array([[[1., 2.]]]), np.array([[[1., 2.]]])
    eq(O.conv_transpose(x, w, dilation=2), [[[1, 2, 2, 4]]])
    # output_padding 1 < max(stride 1, dilation 2) is allowed
    eq(O.conv_transpose(x, w, dilation=2, output_padding=1), [[[1, 2, 2, 4, 0]]])


# ---------------------------------------------------------------- gradients

def test_conv_grads_1d_stride2():
    # forward: y0 = x0 + 2x1 + 3x2, y1 = x2 + 2x3 + 3x4 (w = [1,2,3], stride 2); g = [1, 10]
    # dx = [g0*1, g0*2, g0*3 + g1*1, g1*2, g1*3] = [1, 2, 13, 20, 30]
    # dw[j] = g0*x[j] + g1*x[2+j] = [1+30, 2+40, 3+50] = [31, 42, 53]
    g = np.array([[[1., 10.]]])
    eq(O.conv_input_grad(g, W123, (1, 1, 5), stride=2), [[[1, 2, 13, 20, 30]]])
    eq(O.conv_input_grad(g, W123, (5,), stride=2), [[[1, 2, 13, 20, 30]]])
    eq(O.conv_weight_grad(X5, g, (1, 1, 3), stride=2), [[[31, 42, 53]]])
    eq(O.conv_weight_grad(X5, g, (3,), stride=2), [[[31, 42, 53]]])
    # n = 6: floor((6-3)/2)+1 = 2 outputs, x[5] is never read -> its gradient is 0
    x6 = np.array([[[1., 2., 3., 4., 5., 6.]]])
    eq(O.conv_input_grad(g, W123, x6.shape, stride=2), [[[1, 2, 13, 20, 30, 0]]])
    eq(O.conv_weight_grad(x6, g, W123.shape, stride=2), [[[31, 42, 53]]])


def test_conv_grads_1d_dilation():
    # w = [1, 2], d = 2: y[p] = x[p] + 2 x[p+2], p = 0..2; g = [1, 10, 100]
    # dx = [g0, g1, g2 + 2 g0, 2 g1, 2 g2] = [1, 10, 102, 20, 200]
    # dw0 = sum g[p] x[p] = 1 + 20 + 300 = 321 ; dw1 = sum g[p] x[p+2] = 3 + 40 + 500 = 543
    w = np.array([[[1., 2.]]])
    g = np.array([[[1., 10., 100.]]])
    eq(O.conv_input_grad(g, w, X5.shape, dilation=2), [[[1, 10, 102, 20, 200]]])
    eq(O.conv_weight_grad(X5, g, w.shape, dilation=2), [[[321, 543]]])


def test_conv_grads_2d_padding():
    # x = [[1,2],[3,4]], w = [[1,2],[3,4]], padding 1 -> 3x3 output; g = 1 at (0,0), 2 at (2,2)
    # y[0,0] = w[1,1]*x[0,0] (only overlap) ; y[2,2] = w[0,0]*x[1,1]
    # dx[0,0] = 1*w[1,1] = 4, dx[1,1] = 2*w[0,0] = 2, others 0
    # dw[1,1] = 1*x[0,0] = 1, dw[0,0] = 2*x[1,1] = 8, others 0
    x = a([[1, 2], [3, 4]])[None, None]
    w = a([[1, 2], [3, 4]])[None, None]
    g = np.zeros((1, 1, 3, 3))
    g[0, 0, 0, 0], g[0, 0, 2, 2] = 1, 2
    eq(O.conv_input_grad(g, w, x.shape, padding=1), [[[[4, 0], [0, 2]]]])
    eq(O.conv_weight_grad(x, g, w.shape, padding=1), [[[[8, 0], [0, 1]]]])


def test_conv_grads_groups():
    # groups=2, x ch0 = [1,2,3], ch1 = [4,5,6], kernels w0 = [1,2] (ch0), w1 = [3,4] (ch1)
    # g0 = [1, 0], g1 = [0, 1]
    # dW[0] = sum_p g0[p] x0[p+j] = x0[0:2] = [1, 2]; dW[1] = x1[1:3] = [5, 6]
    # dx0 = g0[0]*w0 at 0..1 = [1, 2, 0]; dx1 = g1[1]*w1 at 1..2 = [0, 3, 4]
    x = np.array([[[1., 2., 3.], [4., 5., 6.]]])
    w = np.array([[[1., 2.]], [[3., 4.]]])
    g = np.array([[[1., 0.], [0., 1.]]])
    eq(O.conv_weight_grad(x, g, w.shape, groups=2), [[[1, 2]], [[5, 6]]])
    eq(O.conv_input_grad(g, w, x.shape, groups=2), [[[1, 2, 0], [0, 3, 4]]])


# ---------------------------------------------------------------- identities

def _conv_case(draw, nd):
    g = draw(st.integers(1, 2))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    kind = draw(st.sampled_from(["int", "pairs", "same", "valid"]))
    if kind == "int":
        pad = draw(st.integers(0, 2))
        pairs = [(pad, pad)] * nd
    elif kind == "pairs":
        pairs = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd)]
        pad = pairs
    else:
        pad, pairs = kind, [(0, 0)] * nd
    sp = tuple(max(1, d[i] * (k[i] - 1) + 1 - sum(pairs[i])) + draw(st.integers(0, 3))
               for i in range(nd))
    n = draw(st.integers(1, 2))
    return (n, g * cg) + sp, (g * og, cg) + k, dict(stride=s, padding=pad, dilation=d, groups=g)


@st.composite
def conv_cases(draw):
    return _conv_case(draw, draw(st.integers(1, 3)))


@settings(max_examples=60, deadline=None)
@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_adjoint_identities(case, seed):
    # <conv(x, w), y> = <x, conv_input_grad(y, w)> = <w, conv_weight_grad(x, y)>
    xs, ws, kw = case
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    out = O.conv(x, w, **kw)
    y = rng.standard_normal(out.shape)
    ref = np.vdot(out, y)
    gx = O.conv_input_grad(y, w, xs, **kw)
    gw = O.conv_weight_grad(x, y, ws, **kw)
    assert gx.shape == xs and gw.shape == ws
    np.testing.assert_allclose(np.vdot(x, gx), ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.vdot(w, gw), ref, rtol=1e-10, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2),
       st.integers(1, 2), st.integers(1, 4), st.integers(0, 2), st.integers(0, 2**32 - 1))
def test_conv_transpose_is_adjoint_of_conv(k, s, p, d, g, n_in, op, seed):
    # 1-D and 2-D: <conv(x, w), y> = <x, conv_transpose(y, w)> where x has the
    # conv_transpose output shape; output_padding < stride keeps conv(x) the shape of y
    rng = np.random.default_rng(seed)
    op %= s
    for nd in (1, 2):
        w = rng.standard_normal((2 * g, 3) + (k,) * nd)       # conv kernel (O, C/g, *k)
        m = (n_in - 1) * s - 2 * p + d * (k - 1) + 1 + op
        if m < 1:
            return
        y = rng.standard_normal((2, 2 * g) + (n_in,) * nd)
        xt = O.conv_transpose(y, w, stride=s, padding=p, output_padding=op, dilation=d,
                              groups=g)
        assert xt.shape == (2, 3 * g) + (m,) * nd
        x = rng.standard_normal(xt.shape)
        cx = O.conv(x, w, stride=s, padding=p, dilation=d, groups=g)
        assert cx.shape == y.shape
        np.testing.assert_allclose(np.vdot(cx, y), np.vdot(x, xt), rtol=1e-10, atol=1e-10)


def _direct_conv(x, w, b, s, pairs, d, g):
    """Direct-sum definition, written independently of the oracle's GEMM path."""
    N, C = x.shape[:2]
    Oc, Cg = w.shape[:2]
    k = w.shape[2:]
    nd = len(k)
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pairs))
    o = [(xp.shape[2 + i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(nd)]
    out = np.zeros((N, Oc) + tuple(o))
    for n, oc in itertools.product(range(N), range(Oc)):
        grp = oc // (Oc // g)
        for pos in itertools.product(*map(range, o)):
            acc = b[oc]
            for c in range(Cg):
                for kk in itertools.product(*map(range, k)):
                    idx = tuple(pos[i] * s[i] + kk[i] * d[i] for i in range(nd))
                    acc += xp[(n, grp * Cg + c) + idx] * w[(oc, c) + kk]
            out[(n, oc) + pos] = acc
    return out


@settings(max_examples=25, deadline=None)
@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_conv_matches_direct_sum(case, seed):
    xs, ws, kw = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    nd = len(xs) - 2
    pad = kw["padding"]
    if pad == "same":
        pairs = [O.same_padding(xs[2 + i], ws[2 + i], kw["stride"][i], kw["dilation"][i])
                 for i in range(nd)]
    elif pad == "valid":
        pairs = [(0, 0)] * nd
    elif isinstance(pad, int):
        pairs = [(pad, pad)] * nd
    else:
        pairs = pad
    want = _direct_conv(x, w, b, kw["stride"], pairs, kw["dilation"], kw["groups"])
    np.testing.assert_allclose(O.conv(x, w, b, **kw), want, rtol=1e-12, atol=1e-12)


def test_unfold_gemm_equals_conv():
    # conv(x, w) == w.reshape(O, -1) @ unfold(x)  (the im2col identity)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 2, 3))
    kw = dict(stride=(2, 1), padding=1, dilation=(1, 2))
    cols = O.unfold(x, (2, 3), **kw)
    want = O.conv(x, w, **kw)
    np.testing.assert_allclose((w.reshape(4, -1) @ cols).reshape(want.shape), want,
                               rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- chunking

def test_chunked_equals_unchunked_exact_on_integers(monkeypatch):
    # integer-valued data: every summation order gives the exact result, so
    # chunked and unchunked must be bit-identical (checks the chunk bookkeeping)
    rng = np.random.default_rng(1)
    cases = [
        ((3, 4, 9, 7), (6, 2, 3, 2), dict(stride=(2, 1), padding="same", dilation=(1, 2),
                                          groups=2)),
        ((2, 3, 11), (5, 3, 3), dict(stride=2, padding=[(1, 2)])),
        ((2, 2, 5, 4, 6), (4, 2, 2, 3, 2), dict(padding=1, stride=(1, 2, 1))),
    ]
    for xs, ws, kw in cases:
        x = rng.integers(-4, 5, xs).astype(float)
        w = rng.integers(-4, 5, ws).astype(float)
        full = O.conv(x, w, **kw)
        for budget in (1, 64, 500, 3000):          # per-row, per-sample and batch chunks
            np.testing.assert_array_equal(O.conv(x, w, budget_bytes=budget, **kw), full)
        monkeypatch.setattr(O, "IM2COL_BUDGET_BYTES", 1)
        np.testing.assert_array_equal(O.conv(x, w, **kw), full)
        monkeypatch.undo()
        y = rng.integers(-4, 5, full.shape).astype(float)
        np.testing.assert_array_equal(
            O.conv_input_grad(y, w, xs, budget_bytes=1, **kw), O.conv_input_grad(y, w, xs, **kw))
        np.testing.assert_array_equal(
            O.conv_weight_grad(x, y, ws, budget_bytes=1, **kw),
            O.conv_weight_grad(x, y, ws, **kw))


def test_chunked_equals_unchunked_random_floats():
    # non-integer data: BLAS may order a dot product differently for a
    # different matrix shape, so agreement is to a few ulp
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 4, 10, 9)), rng.standard_normal((6, 4, 3, 3))
    full = O.conv(x, w, padding=1)
    for budget in (1, 300, 10_000, 100_000):
        np.testing.assert_allclose(O.conv(x, w, padding=1, budget_bytes=budget), full,
                                   rtol=1e-14, atol=1e-13)
    y = rng.standard_normal((3, 4, 5, 5))
    np.testing.assert_allclose(
        O.conv_transpose(y, w.transpose(1, 0, 2, 3), stride=2, padding=1, budget_bytes=1),
        O.conv_transpose(y, w.transpose(1, 0, 2, 3), stride=2, padding=1),
        rtol=1e-14, atol=1e-13)


def test_budget_default_constant():
    assert O.IM2COL_BUDGET_BYTES == 64 * 2**20


# ---------------------------------------------------------------- linear

def test_linear_3d_input():
    # w = [[1,0,-1],[1,1,1]], b = [0, 10]
    # [1,2,3] -> [1-3, 1+2+3] + b = [-2, 16] ; [0,1,0] -> [0, 1] + b = [0, 11]
    x = np.array([[[1., 2., 3.]], [[0., 1., 0.]]])          # (2, 1, 3)
    w = a([[1, 0, -1], [1, 1, 1]])
    out = O.linear(x, w, np.array([0., 10.]))
    eq(out, [[[-2, 16]], [[0, 11]]])
    eq(O.linear(x, w), [[[-2, 6]], [[0, 1]]])


# ---------------------------------------------------------------- shuffles

def test_pixel_shuffle_vs_depth_to_space_4_channels():
    # x[c, h, w] = 10c + 2h + w, C = 4, r = 2 -> C_out = 1, 4x4 output
    # out[2h+i, 2w+j] = x[2i+j, h, w]   (CRD and DCR coincide when C_out = 1)
    # row 0 (h=0,i=0): x[0,0,0]=0, x[1,0,0]=10, x[0,0,1]=1, x[1,0,1]=11
    # row 1 (h=0,i=1): 20, 30, 21, 31 ; row 2 (h=1,i=0): 2, 12, 3, 13 ; row 3: 22, 32, 23, 33
    x = np.array([[[[0., 1.], [2., 3.]], [[10., 11.], [12., 13.]],
                   [[20., 21.], [22., 23.]], [[30., 31.], [32., 33.]]]])
    want = [[[[0, 10, 1, 11], [20, 30, 21, 31], [2, 12, 3, 13], [22, 32, 23, 33]]]]
    eq(O.pixel_shuffle(x, 2), want)
    eq(O.depth_to_space(x, 2), want)
    eq(O.pixel_unshuffle(np.array(want, dtype=float), 2), x)
    eq(O.space_to_depth(np.array(want, dtype=float), 2), x)


def test_pixel_shuffle_vs_depth_to_space_8_channels_differ():
    # 8 channels holding 0..7, 1x1 spatial, r = 2 -> C_out = 2
    # pixel_shuffle (CRD): out[c, i, j] = x[4c + 2i + j] -> c0 [[0,1],[2,3]], c1 [[4,5],[6,7]]
    # depth_to_space (DCR): out[c, i, j] = x[(2i + j)*2 + c] -> c0 [[0,2],[4,6]], c1 [[1,3],[5,7]]
    x = np.arange(8.).reshape(1, 8, 1, 1)
    ps = [[[[0, 1], [2, 3]], [[4, 5], [6, 7]]]]
    d2s = [[[[0, 2], [4, 6]], [[1, 3], [5, 7]]]]
    eq(O.pixel_shuffle(x, 2), ps)
    eq(O.depth_to_space(x, 2), d2s)
    eq(O.pixel_unshuffle(np.array(ps, dtype=float), 2), x)
    eq(O.space_to_depth(np.array(d2s, dtype=float), 2), x)


def test_pixel_shuffle_1d_3d_and_per_dim_r():
    # 1-D: ch0 = [1, 2], ch1 = [3, 4]; out[2w + j] = x[j, w] -> [1, 3, 2, 4]
    eq(O.pixel_shuffle(np.array([[[1., 2.], [3., 4.]]]), 2), [[[1, 3, 2, 4]]])
    # 3-D, 8 channels 0..7 at 1x1x1: out[i, j, k] = x[4i + 2j + k] = arange(8) in 2x2x2
    eq(O.pixel_shuffle(np.arange(8.).reshape(1, 8, 1, 1, 1), 2),
       np.arange(8.).reshape(1, 1, 2, 2, 2))
    # r = (1, 2): channel factor 2, out[h, 2w + j] = x[j, h, w]
    x = np.array([[[[1., 2.]], [[3., 4.]]]])              # (1, 2, 1, 2)
    eq(O.pixel_shuffle(x, (1, 2)), [[[[1, 3, 2, 4]]]])


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 2**32 - 1))
def test_shuffle_inverses(c, r, h, w_, seed):
    x = np.random.default_rng(seed).standard_normal((2, c * r * r, h, w_))
    eq(O.pixel_unshuffle(O.pixel_shuffle(x, r), r), x)
    eq(O.space_to_depth(O.depth_to_space(x, r), r), x)
    y = O.pixel_shuffle(x, r)
    eq(O.pixel_shuffle(O.pixel_unshuffle(y, r), r), y)
    eq(O.depth_to_space(O.space_to_depth(y, r), r), y)


# ---------------------------------------------------------------- pooling, unfold

X_POOL = a([[1, 3, 2, 4], [5, 0, 6, 1], [7, 8, 1, 1], [2, 9, 0, 3]])[None, None]


def test_max_pool_values_and_indices():
    # 2x2 stride 2 windows: TL {1,3,5,0} -> 5 at (1,0) = 4 ; TR {2,4,6,1} -> 6 at (1,2) = 6
    # BL {7,8,2,9} -> 9 at (3,1) = 13 ; BR {1,1,0,3} -> 3 at (3,3) = 15   (flat = h*4 + w)
    v, i = O.max_pool(X_POOL, 2, return_indices=True)
    eq(v, [[[[5, 6], [9, 3]]]])
    assert i.dtype == np.int64
    np.testing.assert_array_equal(i, [[[[4, 6], [13, 15]]]])
    eq(O.max_pool(X_POOL, 2), [[[[5, 6], [9, 3]]]])


def test_max_pool_ties_padding_stride():
    # ties -> first maximum in row-major window order
    v, i = O.max_pool(np.full((1, 1, 2, 2), 2.0), 2, return_indices=True)
    eq(v, [[[[2]]]])
    np.testing.assert_array_equal(i, [[[[0]]]])
    # 1-D x = [1, 3, 3], k 2, s 1, padding 1 -> padded [-inf, 1, 3, 3, -inf]
    # windows: [-inf,1] -> 1 @0 ; [1,3] -> 3 @1 ; [3,3] -> 3 @1 (tie) ; [3,-inf] -> 3 @2
    v, i = O.max_pool(np.array([[[1., 3., 3.]]]), 2, stride=1, padding=1, return_indices=True)
    eq(v, [[[1, 3, 3, 3]]])
    np.testing.assert_array_equal(i, [[[0, 1, 1, 2]]])
    # padding is -inf, not 0: all-negative input keeps its values
    eq(O.max_pool(np.array([[[-5., -7.]]]), 2, stride=1, padding=1), [[[-5, -5, -7]]])
    # a window whose real pixels are all -inf reports its first real pixel
    v, i = O.max_pool(np.array([[[-np.inf, -np.inf]]]), 2, stride=1, padding=1,
                      return_indices=True)
    np.testing.assert_array_equal(i, [[[0, 0, 1]]])


def test_max_unpool():
    # scatter [[5,6],[9,3]] to flat positions 4, 6, 13, 15 of a 4x4 plane
    # 4 = (1,0), 6 = (1,2), 13 = (3,1), 15 = (3,3): each max back where it came from
    v, i = O.max_pool(X_POOL, 2, return_indices=True)
    want = [[[[0, 0, 0, 0], [5, 0, 6, 0], [0, 0, 0, 0], [0, 9, 0, 3]]]]
    eq(O.max_unpool(v, i, (4, 4)), want)
    eq(O.max_unpool(v, i, (1, 1, 4, 4)), want)
    # 1-D literal: [5, 6] to positions 1, 2 of length 4
    eq(O.max_unpool(np.array([[[5., 6.]]]), np.array([[[1, 2]]]), (4,)), [[[0, 5, 6, 0]]])


def test_avg_pool_count_include_pad():
    # 2x2 stride 2: (1+3+5+0)/4 = 2.25, (2+4+6+1)/4 = 3.25, (7+8+2+9)/4 = 6.5, (1+1+0+3)/4 = 1.25
    eq(O.avg_pool(X_POOL, 2), [[[[2.25, 3.25], [6.5, 1.25]]]])
    # 1-D, padding 1 counts zeros: [0+1, 1+3, 3+3, 3+0] / 2 = [0.5, 2, 3, 1.5]
    eq(O.avg_pool(np.array([[[1., 3., 3.]]]), 2, stride=1, padding=1), [[[0.5, 2, 3, 1.5]]])


def test_unfold_feature_order():
    # ch0 = [[1,2,3],[4,5,6]], ch1 = [[7,8,9],[10,11,12]], 2x2 kernel -> L = 1*2 = 2
    # feature c*4 + (2*ki + kj); column L = output position (row-major)
    # ch0: L0 window cols 0..1 = [1,2,4,5], L1 cols 1..2 = [2,3,5,6]
    # ch1: [7,8,10,11], [8,9,11,12]
    x = np.arange(1., 13.).reshape(1, 2, 2, 3)
    eq(O.unfold(x, (2, 2)),
       [[[1, 2], [2, 3], [4, 5], [5, 6], [7, 8], [8, 9], [10, 11], [11, 12]]])
    # padding 1, stride 2 on a 1-D signal [1,2,3] with k 2: padded [0,1,2,3,0] -> L = 2
    # windows [0,1], [2,3] -> features rows (k0, k1) = [[0, 2], [1, 3]]
    eq(O.unfold(np.array([[[1., 2., 3.]]]), 2, stride=2, padding=1), [[[0, 2], [1, 3]]])


def test_magnitude_and_abs_bound():
    # |x| = [1, 2, 3], |w| = [1, 1] -> [1+2, 2+3] = [3, 5]
    eq(O.abs_bound_conv(np.array([[[1., -2., 3.]]]), np.array([[[-1., 1.]]])), [[[3, 5]]])
    eq(O.abs_bound_conv(np.array([[[1., -2., 3.]]]), np.array([[[-1., 1.]]]), stride=2),
       [[[3]]])
    # |1*3| + |-2*-4| = 11
    eq(O.magnitude(O.linear, a([[1, -2]]), a([[3, -4]])), [[11]])
    eq(O.magnitude(O.conv_transpose, np.array([[[-1., 2.]]]), np.array([[[1., -1.]]])),
       [[[1, 3, 2]]])
    with pytest.raises(OracleError, match="bias"):
        O.abs_bound_conv(X5, W123, b=np.ones(1))


# ---------------------------------------------------------------- errors

def test_oracle_error_is_value_error():
    assert issubclass(OracleError, ValueError)


@pytest.mark.parametrize("call, pattern", [
    (lambda: O.conv(np.zeros((1, 10, 5, 5)), np.zeros((5, 5, 5, 5))),
     r"input has 10 channels but kernel expects 5 per group × groups=1 "
     r"\(input shape \(1, 10, 5, 5\), kernel shape \(5, 5, 5, 5\)\)"),
    (lambda: O.conv(np.zeros((1, 3, 5)), np.zeros((2, 1, 3)), groups=2),
     r"input channels 3 not divisible by groups=2 \(input shape \(1, 3, 5\)\)"),
    (lambda: O.conv(np.zeros((1, 4, 5)), np.zeros((3, 2, 3)), groups=2),
     r"output channels 3 not divisible by groups=2 \(kernel shape \(3, 2, 3\)\)"),
    (lambda: O.conv(np.zeros((1, 1, 3)), np.zeros((1, 1, 5))),
     r"kernel larger than padded input.*size 5 > padded size 3.*\(1, 1, 5\)"),
    (lambda: O.conv(np.zeros((1, 1, 3)), np.zeros((1, 1, 3)), dilation=2),
     r"effective kernel size 5 > padded size 3"),
    (lambda: O.conv(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3))),
     r"rank mismatch: input shape \(1, 1, 5, 5\) has 2 spatial dims but kernel shape "
     r"\(1, 1, 3\) has 1"),
    (lambda: O.conv(np.zeros((1, 5)), np.zeros((1, 1, 3))), r"\(N, C, \*spatial\).*\(1, 5\)"),
    (lambda: O.conv(X5, W123, stride=0), r"stride=0 must be >= 1"),
    (lambda: O.conv(X5, W123, dilation=(0,)), r"dilation=\(0,\) must be >= 1"),
    (lambda: O.conv(X44, np.ones((1, 1, 2, 2)), stride=(1, 2, 3)),
     r"stride=\(1, 2, 3\) has 3 entries but there are 2 spatial dims"),
    (lambda: O.conv(X5, W123, stride=1.5), r"stride=1.5 must be an int"),
    (lambda: O.conv(X5, W123, padding=-1), r"negative padding"),
    (lambda: O.conv(X5, W123, padding=[(1, -1)]), r"negative padding"),
    (lambda: O.conv(X5, W123, padding="full"), r"padding='full' not supported"),
    (lambda: O.conv(X44, np.ones((1, 1, 2, 2)), padding=[(1, 2, 3), 1]),
     r"padding=.*\(before, after\) pairs"),
    (lambda: O.conv(X5, W123, np.zeros(2)), r"bias shape \(2,\) != \(1,\)"),
    (lambda: O.conv(X5, W123, groups=0), r"groups=0 must be >= 1"),
    (lambda: O.conv(X5 + 1j, W123), r"x is complex"),
    (lambda: O.conv_transpose(np.zeros((1, 1, 3)), np.zeros((1, 1, 3)), stride=2,
                              output_padding=2),
     r"output_padding=2 in spatial dim 0 must be smaller than stride \(2\) or dilation \(1\)"),
    (lambda: O.conv_transpose(np.zeros((1, 2, 3)), np.zeros((3, 1, 3))),
     r"input has 2 channels but transposed kernel .* has I=3 .*\(1, 2, 3\).*\(3, 1, 3\)"),
    (lambda: O.conv_transpose(np.zeros((1, 3, 3)), np.zeros((3, 1, 3)), groups=2),
     r"input channels 3 not divisible by groups=2"),
    (lambda: O.conv_transpose(np.zeros((1, 1, 1)), np.zeros((1, 1, 1)), padding=1),
     r"non-positive output size"),
    (lambda: O.conv_transpose(np.zeros((1, 1, 3)), np.zeros((1, 1, 3)), padding="same"),
     r"padding='same' not supported"),
    (lambda: O.conv_input_grad(np.zeros((1, 1, 4)), W123, (1, 1, 5), stride=2),
     r"grad_out shape \(1, 1, 4\) != conv output shape \(1, 1, 2\)"),
    (lambda: O.conv_weight_grad(X5, np.zeros((1, 1, 4)), (1, 1, 3), stride=2),
     r"grad_out shape \(1, 1, 4\) != conv output shape \(1, 1, 2\)"),
    (lambda: O.linear(np.zeros((2, 3, 4)), np.zeros((5, 3))),
     r"input shape \(2, 3, 4\) last dim != in_features 3 of weight shape \(5, 3\)"),
    (lambda: O.linear(np.zeros(3), np.zeros((2, 3)), np.zeros(3)), r"bias shape \(3,\)"),
    (lambda: O.pixel_shuffle(np.zeros((1, 6, 2, 2)), 2),
     r"channels 6 of input shape \(1, 6, 2, 2\) not divisible by r\*\*ndim=4"),
    (lambda: O.depth_to_space(np.zeros((1, 6, 2, 2)), 2), r"channels 6"),
    (lambda: O.pixel_unshuffle(np.zeros((1, 1, 3, 4)), 2),
     r"spatial dim 0 of input shape \(1, 1, 3, 4\) not divisible by r=2"),
    # pads beyond k//2 are accepted (tests/test_oracle_pool.py); a window of padding only is not
    (lambda: O.max_pool(X_POOL, 2, padding=2), r"windows lie entirely in the padding in spatial dim 0"),
    (lambda: O.max_pool(np.zeros((1, 1, 1)), 2, stride=1, padding=1, dilation=2),
     r"windows lie entirely in the padding"),
    (lambda: O.max_pool(np.zeros((1, 1, 2)), 3), r"larger than padded input"),
    (lambda: O.avg_pool(X_POOL, 2, padding="same"), r"'same' not supported"),
    (lambda: O.max_unpool(np.ones((1, 1, 2)), np.array([[[0, 9]]]), (4,)),
     r"indices out of range \[0, 4\)"),
    (lambda: O.max_unpool(np.ones((1, 1, 2)), np.array([[[0, 1, 2]]]), (4,)),
     r"indices shape \(1, 1, 3\)"),
    (lambda: O.unfold(np.zeros((1, 1, 2, 2)), 3), r"kernel larger than padded input"),
    (lambda: O.same_padding(4, 3, stride=0), r"stride >= 1"),
])
def test_errors(call, pattern):
    with pytest.raises(OracleError, match=pattern):
        call()


# ---------------------------------------------------------------- import hygiene

def test_import_does_not_pull_frameworks():
    code = ("import sys, equivcheck.oracle; "
            "bad = [m for m in ('torch', 'tensorflow', 'jax', 'flax', 'keras') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


# ---------------------------------------------------------------- brute-force references
#
# The tests below pin every strategy and branch of the oracle (docs/ORACLE_MUTATIONS.md lists
# what a mutation run over equivcheck/oracle/ leaves alive, and why).  Their reference is either
# a literal or one of these loops: the definitions, one output element at a time, padding by a
# bounds check (no np.pad, no strided view, no GEMM), on small integer data so that every
# comparison is exact.

def _loop_conv(x, w, stride, pairs, dilation, groups=1):
    """out[n, o, p] = sum_{c, j} x[n, g(o)*Cg + c, p*s + j*d - before] * w[o, c, j] (zero outside)."""
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    N, Oc, Cg, k, sp = x.shape[0], w.shape[0], w.shape[1], w.shape[2:], x.shape[2:]
    nd = len(k)
    o = [(sp[i] + pairs[i][0] + pairs[i][1] - dilation[i] * (k[i] - 1) - 1) // stride[i] + 1
         for i in range(nd)]
    out = np.zeros((N, Oc) + tuple(o))
    for n, oc in itertools.product(range(N), range(Oc)):
        g = oc // (Oc // groups)
        for p in itertools.product(*map(range, o)):
            acc = 0.0
            for c in range(Cg):
                for j in itertools.product(*map(range, k)):
                    idx = tuple(p[i] * stride[i] + j[i] * dilation[i] - pairs[i][0] for i in range(nd))
                    if all(0 <= idx[i] < sp[i] for i in range(nd)):
                        acc += x[(n, g * Cg + c) + idx] * w[(oc, c) + j]
            out[(n, oc) + p] = acc
    return out


def _loop_conv_transpose(x, w, stride, pairs, dilation, output_padding, groups=1):
    """Scatter definition: out[n, g*Og + o, i*s + j*d - before] += x[n, g*Ig + c, i] * w[g*Ig + c, o, j]."""
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    N, I, Og, k, sp = x.shape[0], w.shape[0], w.shape[1], w.shape[2:], x.shape[2:]
    nd, Ig = len(k), I // groups
    size = [(sp[i] - 1) * stride[i] - pairs[i][0] - pairs[i][1] + dilation[i] * (k[i] - 1)
            + output_padding[i] + 1 for i in range(nd)]
    out = np.zeros((N, Og * groups) + tuple(size))
    for n, ic in itertools.product(range(N), range(I)):
        g = ic // Ig
        for i in itertools.product(*map(range, sp)):
            for o in range(Og):
                for j in itertools.product(*map(range, k)):
                    t = tuple(i[a] * stride[a] + j[a] * dilation[a] - pairs[a][0] for a in range(nd))
                    if all(0 <= t[a] < size[a] for a in range(nd)):
                        out[(n, g * Og + o) + t] += x[(n, ic) + i] * w[(ic, o) + j]
    return out


def _ints_array(seed, shape):
    return np.random.default_rng(seed).integers(-3, 4, shape).astype(np.float64)


@pytest.fixture
def gemm_calls(monkeypatch):
    """Records ``(strategy, shape of the padded input chunk)`` for every GEMM the oracle runs."""
    calls = []

    def spy(name, fn):
        def wrapped(xs, *args, **kwargs):
            calls.append((name, xs.shape))
            return fn(xs, *args, **kwargs)
        return wrapped
    monkeypatch.setattr(oracle_fast, "_gemm_shifted", spy("shifted", oracle_fast._gemm_shifted))
    monkeypatch.setattr(oracle_fast, "_gemm_im2col", spy("im2col", oracle_fast._gemm_im2col))
    return calls


# ---------------------------------------------------------------- the shifted-GEMM path (3-D and up)

@pytest.mark.parametrize("xs, ws, kw", [
    # the shape the issue found unpinned: every kernel size 2, values off by up to 49 under mutants
    ((1, 2, 6, 10, 14), (3, 2, 2, 2, 2), {}),
    # distinct kernel sizes, dilation in the first and last dims (shifts and span), groups, N = 2
    ((2, 4, 4, 10, 12), (4, 2, 2, 3, 2), dict(dilation=(2, 1, 2), groups=2)),
    # k[0] = 1: the GEMM block needs the spare tail (o[0] * row[0] > width)
    ((1, 2, 5, 5, 12), (2, 2, 1, 2, 3), {}),
    # asymmetric explicit padding, several input channels
    ((2, 3, 3, 8, 9), (2, 3, 2, 2, 2), dict(padding=[(1, 0), (0, 1), (1, 1)])),
    # 4 spatial dims: the flat strides and the offset loop are not 3-D special cases
    ((1, 1, 3, 2, 2, 3), (1, 1, 2, 1, 1, 2), {}),
])
def test_shifted_gemm_matches_loop_definition(gemm_calls, xs, ws, kw):
    """The 3-D shifted GEMM with real kernel sizes equals the loop definition exactly.

    Before these cases the path was only reached with a last kernel size of 1, and mutants of its
    offset loop and block bookkeeping passed the suite with values off by up to 49."""
    x, w = _ints_array(1, xs), _ints_array(2, ws)
    nd = len(xs) - 2
    pairs = kw.get("padding", [(0, 0)] * nd)
    want = _loop_conv(x, w, (1,) * nd, pairs, kw.get("dilation", (1,) * nd), kw.get("groups", 1))
    eq(O.conv(x, w, **kw), want)
    assert [name for name, _ in gemm_calls] == ["shifted"]


def test_conv_transpose_3d_runs_the_shifted_gemm(gemm_calls):
    """conv_transpose is a stride-1 conv of the zero-inserted input, so in 3-D it takes the shifted
    path too; pinned against the scatter definition."""
    x, w = _ints_array(3, (1, 2, 2, 3, 4)), _ints_array(4, (2, 2, 2, 2, 2))
    want = _loop_conv_transpose(x, w, (1, 1, 2), [(0, 0)] * 3, (1, 1, 1), (0, 0, 0))
    eq(O.conv_transpose(x, w, stride=(1, 1, 2)), want)
    assert [name for name, _ in gemm_calls] == ["shifted"]


@pytest.mark.parametrize("xs, ws, kw, strategy", [
    # k[-1]*inner == prod(k)*prod(o[1:]) (1x1x1 kernel) and wrapped == 1: shifted (the <= edge)
    ((1, 1, 2, 3, 4), (1, 1, 1, 1, 1), {}, "shifted"),
    # k[-1]*inner = 16 > prod(k)*prod(o[1:]) = 12 (wrapped 1.33): im2col
    ((1, 1, 2, 2, 4), (1, 1, 1, 1, 2), {}, "im2col"),
    # wrapped = o[0]*inner/prod(o) = 2*6/8 = 1.5 exactly: shifted (the <= edge)
    ((1, 1, 2, 3, 2), (1, 1, 1, 2, 1), {}, "shifted"),
    # wrapped = 2*10/12 = 1.67 > 1.5: im2col
    ((1, 1, 2, 5, 2), (1, 1, 1, 3, 1), {}, "im2col"),
    # a single output position (prod(o) = 1), wrapped = 2: im2col
    ((1, 1, 2, 2, 1), (1, 1, 2, 2, 1), {}, "im2col"),
    # prod(k[:-1]) = 64 = _MAX_SHIFTS leading offsets: shifted (wrapped 21/14 = 1.5)
    ((1, 1, 8, 21, 1), (1, 1, 8, 8, 1), {}, "shifted"),
    # prod(k[:-1]) = 65 > _MAX_SHIFTS though k[0] = 5 alone is small: im2col
    ((1, 1, 5, 36, 1), (1, 1, 5, 13, 1), {}, "im2col"),
    # any stride > 1: im2col (the shifted sums are stride 1 only)
    ((1, 2, 6, 10, 14), (3, 2, 2, 2, 2), dict(stride=(1, 1, 2)), "im2col"),
    ((1, 2, 6, 10, 14), (3, 2, 2, 2, 2), dict(stride=(2, 1, 1)), "im2col"),
    # 1-D and 2-D always use im2col
    ((1, 2, 12, 14), (3, 2, 2, 2), {}, "im2col"),
    ((1, 2, 14), (3, 2, 2), {}, "im2col"),
])
def test_strategy_choice(gemm_calls, xs, ws, kw, strategy):
    """Each condition of the strategy choice at its edge (the choice is measured, see
    benchmarks/oracle_bench.py).  Results are the loop definition's either way; this pins that
    the tests above really reach the path they name."""
    x, w = _ints_array(5, xs), _ints_array(6, ws)
    nd = len(xs) - 2
    s = kw.get("stride", (1,) * nd)
    eq(O.conv(x, w, **kw), _loop_conv(x, w, s, [(0, 0)] * nd, (1,) * nd))
    assert [name for name, _ in gemm_calls] == [strategy]


# ---------------------------------------------------------------- im2col layouts

@pytest.mark.parametrize("xs, ws, kw", [
    # k[-1] = 5 > o[-1] = 3: positions-major gather (as in the weight gradient)
    ((2, 4, 7), (4, 2, 5), dict(groups=2)),
    ((1, 2, 3, 6), (4, 1, 2, 4), dict(groups=2, padding=[(0, 1), (1, 0)])),
    # k[-1] = o[-1] = 3: kernel-major (the > edge)
    ((2, 2, 5), (2, 2, 3), {}),
    # 3-D with stride: im2col, kernel-major and positions-major
    ((2, 2, 5, 4, 6), (4, 1, 2, 3, 2), dict(stride=(2, 1, 2), dilation=(1, 1, 2), groups=2)),
    ((1, 2, 3, 3, 5), (2, 2, 2, 2, 4), dict(stride=(1, 2, 1))),
])
def test_im2col_layouts_match_loop_definition(xs, ws, kw):
    """Both gather layouts of im2col (positions-major when the last kernel axis is longer than
    the last output axis, kernel-major otherwise), with groups, equal the loop definition."""
    x, w = _ints_array(7, xs), _ints_array(8, ws)
    nd = len(xs) - 2
    want = _loop_conv(x, w, kw.get("stride", (1,) * nd), kw.get("padding", [(0, 0)] * nd),
                      kw.get("dilation", (1,) * nd), kw.get("groups", 1))
    eq(O.conv(x, w, **kw), want)


# ---------------------------------------------------------------- chunking under the budget

def _plan(calls):
    """(batch size, input rows) of each GEMM chunk."""
    return [(shape[0], shape[2]) for _, shape in calls]


@pytest.mark.parametrize("budget, plan", [
    # im2col, x (3, 2, 9, 4), w (3, 2, 2, 2): o = (8, 3), one output row costs
    # 8 bytes * o[1] * (C*prod(k) + O) = 8 * 3 * (8 + 3) = 264; a sample 8 rows = 2112
    (3 * 2112, [(3, 9)]),                       # the whole batch fits exactly
    (3 * 2112 - 1, [(1, 9), (2, 9)]),           # 2 samples per chunk -> balanced 1 + 2
    (2112, [(1, 9)] * 3),                       # one sample fits exactly
    (2111, [(1, 5)] * 6),                       # 7 rows fit -> 8 rows in 2 balanced chunks of 4
    (3 * 264, [(1, 3), (1, 4), (1, 4)] * 3),    # 3 rows fit -> chunks of 2, 3, 3 rows
    (3 * 264 - 1, [(1, 3)] * 12),               # 2 rows fit -> 4 chunks of 2
    (1, [(1, 2)] * 24),                         # less than one row: one row per chunk
])
def test_chunk_plan_im2col(gemm_calls, budget, plan):
    """The gathered columns and GEMM result of one chunk stay within ``budget_bytes``: first the
    whole batch, then samples, then rows of the first output axis (balanced), never less than one
    row.  Chunked results are exact on integers."""
    x, w = _ints_array(9, (3, 2, 9, 4)), _ints_array(10, (3, 2, 2, 2))
    eq(O.conv(x, w, budget_bytes=budget), _loop_conv(x, w, (1, 1), [(0, 0)] * 2, (1, 1)))
    assert _plan(gemm_calls) == plan
    assert {name for name, _ in gemm_calls} == {"im2col"}


@pytest.mark.parametrize("budget, plan", [
    # shifted, x (2, 2, 4, 9, 8), w (3, 2, 2, 3, 2): o = (3, 7, 7), inner = 9*8 = 72, 6 leading
    # offsets; r output rows read r + 1 input rows, each costing 8 * inner * (C*(k[-1] + 1) +
    # offsets*O) = 8 * 72 * (6 + 18) = 13824 bytes; a sample (3 rows) = 4 * 13824 = 55296
    (2 * 55296, [(2, 4)]),
    (2 * 55296 - 1, [(1, 4)] * 2),
    (55296, [(1, 4)] * 2),
    (55296 - 1, [(1, 2), (1, 3)] * 2),          # (budget - 13824) // 13824 = 2 rows fit
    (3 * 13824, [(1, 2), (1, 3)] * 2),          # exactly 2 rows
    (3 * 13824 - 1, [(1, 2)] * 6),              # 1 row fits
    (1, [(1, 2)] * 6),
])
def test_chunk_plan_shifted(gemm_calls, budget, plan):
    """The same budget rule for the shifted strategy, whose chunk of r rows gathers r + span0 - 1
    input rows (its cost has a constant part, so the row count is (budget - cost(0)) // per row)."""
    x, w = _ints_array(11, (2, 2, 4, 9, 8)), _ints_array(12, (3, 2, 2, 3, 2))
    full = O.conv(x, w)
    gemm_calls.clear()
    eq(O.conv(x, w, budget_bytes=budget), full)
    assert _plan(gemm_calls) == plan
    assert {name for name, _ in gemm_calls} == {"shifted"}


def test_shifted_chunk_reference():
    """The unchunked result of the shifted chunk-plan case, against the loop definition."""
    x, w = _ints_array(11, (2, 2, 4, 9, 8)), _ints_array(12, (3, 2, 2, 3, 2))
    eq(O.conv(x, w, budget_bytes=1), _loop_conv(x, w, (1, 1, 1), [(0, 0)] * 3, (1, 1, 1)))


@pytest.mark.parametrize("call", [
    lambda **kw: O.conv(X44, np.ones((1, 1, 2, 2)), **kw),
    lambda **kw: O.convolve(X44, np.ones((1, 1, 2, 2)), **kw),
    lambda **kw: O.abs_bound_conv(X44, np.ones((1, 1, 2, 2)), **kw),
    lambda **kw: O.conv_transpose(X44, np.ones((1, 1, 2, 2)), stride=2, **kw),
    lambda **kw: O.conv_input_grad(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), (4, 4), **kw),
    lambda **kw: O.conv_weight_grad(X44, np.ones((1, 1, 3, 3)), (2, 2), **kw),
])
def test_every_conv_entry_point_honours_budget_bytes(gemm_calls, call):
    """``budget_bytes=`` reaches the GEMM of every conv-family function: one chunk by default,
    several at budget 1, same result."""
    full = call()
    assert len(gemm_calls) == 1
    del gemm_calls[:]
    np.testing.assert_array_equal(call(budget_bytes=1), full)
    assert len(gemm_calls) > 1


# ---------------------------------------------------------------- literals for the remaining branches

def test_conv_output_size_floors_non_dividing_sizes():
    """The division is a floor, and the result an int, also when the stride does not divide."""
    # floor((6 - 2 - 1) / 2) + 1 = floor(1.5) + 1 = 2   (true division would give 2.5)
    assert O.conv_output_size(6, 3, stride=2) == 2
    # floor((10 + 2 - 2 - 1) / 4) + 1 = floor(2.25) + 1 = 3
    assert O.conv_output_size(10, 3, stride=4, padding=1) == 3
    # pair: floor((8 + 1 + 0 - 1 - 1) / 3) + 1 = floor(7/3) + 1 = 3
    res = O.conv_output_size(8, 2, stride=3, padding=(1, 0))
    assert res == 3 and isinstance(res, int)


def test_shape_helper_defaults():
    """Default stride 1, padding 0 (and dilation 1) in the shape helpers."""
    # (3-1)*1 - 0 + 1*(3-1) + 0 + 1 = 5
    assert O.conv_transpose_output_size(3, 3) == 5
    # n=4, k=3, s=1: total = 3*1 + 2 + 1 - 4 = 2 -> (1, 1)   (stride 2 would give (0, 1))
    assert O.same_padding(4, 3) == (1, 1)
    # n = 0 is allowed: out = 0, total = max(-1 + 2 + 1 - 0, 0) = 2 (TF's formula)
    assert O.same_padding(0, 3) == (1, 1)


def test_conv1d_same_with_dilation():
    """'same' padding uses the dilated kernel span d*(k-1) + 1."""
    # n=5, k=3, d=2: total = 4 + 2*2 + 1 - 5 = 4 -> (2, 2); xp = [0, 0, 1, 2, 3, 4, 5, 0, 0]
    # out[p] = xp[p] + 2 xp[p+2] + 3 xp[p+4]: 0+2+9 = 11, 0+4+12 = 16, 1+6+15 = 22, 2+8+0 = 10, 3+10+0 = 13
    eq(O.conv(X5, W123, padding="same", dilation=2), [[[11, 16, 22, 10, 13]]])


def test_conv2d_one_int_per_dim_padding():
    """``padding=[1, 0]`` pads each dim by its own int: rows by 1, columns by 0."""
    # padded rows [0,0,0], [1,2,3], [4,5,6], [7,8,9], [0,0,0]; 2x2 ones -> 4x2 window sums
    # 0+0+1+2 = 3, 5 ; 1+2+4+5 = 12, 16 ; 24, 28 ; 7+8 = 15, 17
    eq(O.conv(X33, np.ones((1, 1, 2, 2)), padding=[1, 0]), [[[[3, 5], [12, 16], [24, 28], [15, 17]]]])


def test_convolve_passes_bias_and_keywords():
    # convolve(X5, W123) = [10, 16, 22]; stride 2 keeps [10, 22]; bias 1
    eq(O.convolve(X5, W123, np.array([1.]), stride=2), [[[11, 23]]])


def test_conv_transpose_padding_beyond_the_kernel_crops():
    """Padding larger than d*(k-1) crops the full result (negative padding of the dilated input)."""
    # full = [1, 2, 6, 4, 11, 6, 12] (x = [1,2,3], w = [1,2,4], stride 2, see above)
    x, w = np.array([[[1., 2., 3.]]]), np.array([[[1., 2., 4.]]])
    eq(O.conv_transpose(x, w, stride=2, padding=3), [[[4]]])                    # full[3:4]
    eq(O.conv_transpose(x, w, stride=2, padding=[(3, 2)]), [[[4, 11]]])         # full[3:5]
    eq(O.conv_transpose(x, w, stride=2, padding=3, output_padding=1), [[[4, 11]]])


def test_conv_grads_batch_differs_from_channels_spatial_shapes():
    """Spatial-only ``input_shape``/``kernel_shape`` take N from grad_out and C from the kernel
    and groups (here N = 2, O = 2, groups = 2, C/groups = 1)."""
    # w0 = [1, 2] reads ch0, w1 = [3, 4] reads ch1; dx[n, c, i] = sum_p g[n, c, p] * w[c, i - p]
    # n0: g = [1, 0] -> [1, 2, 0] ; g = [0, 1] -> [0, 3, 4]
    # n1: g = [0, 2] -> [0, 2, 4] ; g = [1, 0] -> [3, 4, 0]
    w = np.array([[[1., 2.]], [[3., 4.]]])
    g = np.array([[[1., 0.], [0., 1.]], [[0., 2.], [1., 0.]]])
    eq(O.conv_input_grad(g, w, (3,), groups=2),
       [[[1, 2, 0], [0, 3, 4]], [[0, 2, 4], [3, 4, 0]]])
    eq(O.conv_input_grad(g[1:], w, (3,), groups=2), [[[0, 2, 4], [3, 4, 0]]])   # N = 1, O = 2
    # dW[o, 0, j] = sum_n sum_p g[n, o, p] x[n, o, p + j]
    # o0: n0 g = [1, 0] -> x[0,0,0:2] = [1, 2]; n1 g = [0, 2] -> 2*x[1,0,1:3] = [2, 0] -> [3, 2]
    # o1: n0 g = [0, 1] -> x[0,1,1:3] = [5, 6]; n1 g = [1, 0] -> x[1,1,0:2] = [2, 0] -> [7, 6]
    x = np.array([[[1., 2., 3.], [4., 5., 6.]], [[1., 1., 0.], [2., 0., 1.]]])
    eq(O.conv_weight_grad(x, g, (2,), groups=2), [[[3, 2]], [[7, 6]]])


def test_inputs_are_computed_in_float64():
    """Design rule 2: inputs are cast to float64 before any arithmetic, results are float64."""
    # float32: 1 + 2**-24 rounds to 1 in float32 (24-bit significand), is exact in float64
    x32 = np.array([[[1., 2.**-24]]], dtype=np.float32)
    eq(O.conv(x32, np.ones((1, 1, 2), dtype=np.float32)), [[[1 + 2.**-24]]])
    # integer inputs give float64 results everywhere, not integer arrays
    eq(O.linear([[1, 2]], [[3, 4]]), [[11]])
    eq(O.flip([[[1, 2]]]), [[[2, 1]]])
    eq(O.pixel_shuffle([[[1], [2]]], 2), [[[1, 2]]])
    eq(O.unfold([[[1, 2]]], 1), [[[1, 2]]])


def test_max_pool_same_padding():
    """TF 'SAME' pooling: output ceil(n/s), the odd padding pixel at the end, padding is -inf."""
    # 1-D, k 2, s 2, n 5: pads (0, 1) -> [1,3] [2,5] [4,-inf] -> 3 @1, 5 @3, 4 @4
    v, i = O.max_pool(np.array([[[1., 3., 2., 5., 4.]]]), 2, padding="same", return_indices=True)
    eq(v, [[[3, 5, 4]]])
    np.testing.assert_array_equal(i, [[[1, 3, 4]]])
    # k 3, s 1: pads (1, 1) -> [-inf,1,3] [1,3,2] [3,2,5] [2,5,4] [5,4,-inf]
    v, i = O.max_pool(np.array([[[1., 3., 2., 5., 4.]]]), 3, stride=1, padding="same",
                      return_indices=True)
    eq(v, [[[3, 3, 5, 5, 5]]])
    np.testing.assert_array_equal(i, [[[1, 1, 3, 3, 3]]])
    # k 2, s 1: pads (0, 1): the window start is the *before* padding -> [1,3] [3,2] [2,-inf]
    v, i = O.max_pool(np.array([[[1., 3., 2.]]]), 2, stride=1, padding="SAME", return_indices=True)
    eq(v, [[[3, 3, 2]]])
    np.testing.assert_array_equal(i, [[[1, 1, 2]]])
    # 2-D X_POOL, k 3, s 2: pads (0, 1) per dim, windows rows/cols 0..2 and 2..3 (+pad)
    # (0,0) max 8 at (2,1) = 9 ; (0,1) {2,4,6,1,1,1} 6 at (1,2) = 6
    # (1,0) {7,8,2,9} 9 at (3,1) = 13 ; (1,1) {1,1,0,3} 3 at (3,3) = 15
    v, i = O.max_pool(X_POOL, 3, stride=2, padding="same", return_indices=True)
    eq(v, [[[[8, 6], [9, 3]]]])
    np.testing.assert_array_equal(i, [[[[9, 6], [13, 15]]]])


def test_max_pool_kernel_1_and_padding_limits_accepted():
    """Kernel 1 is the identity; padding k//2 on a one-pixel input is allowed (3 windows, each
    holding the pixel)."""
    eq(O.max_pool(np.array([[[1., 3., 2.]]]), 1), [[[1, 3, 2]]])
    # x = [5], k 3, s 1, padding 1: padded [-inf, 5, -inf], span 3 -> one window
    eq(O.max_pool(np.array([[[5.]]]), 3, stride=1, padding=1), [[[5]]])
    eq(O.unfold(np.array([[[1., 2., 3.]]]), 1), [[[1, 2, 3]]])
    # 3 channels, a 1x1 plane, kernel (1, 3), padding 1 in dim 1: one window per dim, each holding
    # the pixel (the window count comes from the spatial size, not from C)
    x = np.array([[[[1.]], [[2.]], [[3.]]]])
    eq(O.max_pool(x, (1, 3), stride=1, padding=[0, 1]), x)


def test_max_pool_indices_of_all_minus_inf_windows_2d():
    """A window whose real pixels are all -inf reports its first real pixel, also when only one
    dim of the window starts in the padding."""
    # 2x2 plane of -inf, k 2, s 1, padding 1 -> 3x3; window (a, b) starts at (a-1, b-1); its first
    # real pixel is (max(a-1, 0), max(b-1, 0)) -> flat 2*row + col
    v, i = O.max_pool(np.full((1, 1, 2, 2), -np.inf), 2, stride=1, padding=1, return_indices=True)
    np.testing.assert_array_equal(i, [[[[0, 0, 1], [0, 0, 1], [2, 2, 3]]]])
    # 1-D with dilation 2: windows taps (-1, 1), (0, 2), (1, 3) over [-inf]*3 -> first real 1, 0, 1
    v, i = O.max_pool(np.full((1, 1, 3), -np.inf), 2, stride=1, padding=1, dilation=2,
                      return_indices=True)
    np.testing.assert_array_equal(i, [[[1, 0, 1]]])


def test_max_unpool_first_and_last_positions():
    """Indices 0 and M-1 are in range."""
    eq(O.max_unpool(np.array([[[5., 6.]]]), np.array([[[0, 3]]]), (4,)), [[[5, 0, 0, 6]]])


# ---------------------------------------------------------------- exact error messages

_C3 = np.zeros((1, 1, 3)) + 0j
_Z = np.zeros


@pytest.mark.parametrize("call, message", [
    # complex input: every public entry point names itself and the argument
    (lambda: O.conv(_C3, W123), "conv: x is complex; the oracle is real float64 only"),
    (lambda: O.conv(X5, W123 + 0j), "conv: w is complex; the oracle is real float64 only"),
    (lambda: O.conv(X5, W123, np.ones(1) + 0j), "conv: b is complex; the oracle is real float64 only"),
    (lambda: O.flip(W123 + 0j), "flip: w is complex; the oracle is real float64 only"),
    (lambda: O.conv_transpose(_C3, W123),
     "conv_transpose: x is complex; the oracle is real float64 only"),
    (lambda: O.conv_transpose(X5, W123 + 0j),
     "conv_transpose: w is complex; the oracle is real float64 only"),
    (lambda: O.conv_transpose(X5, W123, np.ones(1) + 0j),
     "conv_transpose: b is complex; the oracle is real float64 only"),
    (lambda: O.conv_input_grad(_C3, W123, (5,)),
     "conv_input_grad: grad_out is complex; the oracle is real float64 only"),
    (lambda: O.conv_input_grad(_Z((1, 1, 3)), W123 + 0j, (5,)),
     "conv_input_grad: w is complex; the oracle is real float64 only"),
    (lambda: O.conv_weight_grad(X5 + 0j, _Z((1, 1, 3)), (3,)),
     "conv_weight_grad: x is complex; the oracle is real float64 only"),
    (lambda: O.conv_weight_grad(X5, _C3, (3,)),
     "conv_weight_grad: grad_out is complex; the oracle is real float64 only"),
    (lambda: O.linear(np.ones(2) + 0j, np.ones((1, 2))),
     "linear: x is complex; the oracle is real float64 only"),
    (lambda: O.linear(np.ones(2), np.ones((1, 2)) + 0j),
     "linear: w is complex; the oracle is real float64 only"),
    (lambda: O.linear(np.ones(2), np.ones((1, 2)), np.ones(1) + 0j),
     "linear: b is complex; the oracle is real float64 only"),
    (lambda: O.pixel_shuffle(_C3, 1), "pixel_shuffle: x is complex; the oracle is real float64 only"),
    (lambda: O.pixel_unshuffle(_C3, 1),
     "pixel_unshuffle: x is complex; the oracle is real float64 only"),
    (lambda: O.depth_to_space(_C3, 1),
     "depth_to_space: x is complex; the oracle is real float64 only"),
    (lambda: O.space_to_depth(_C3, 1),
     "space_to_depth: x is complex; the oracle is real float64 only"),
    (lambda: O.max_pool(_C3, 1), "max_pool: x is complex; the oracle is real float64 only"),
    (lambda: O.avg_pool(_C3, 1), "avg_pool: x is complex; the oracle is real float64 only"),
    (lambda: O.max_unpool(_C3, _Z((1, 1, 3), int), (3,)),
     "max_unpool: y is complex; the oracle is real float64 only"),
    (lambda: O.unfold(_C3, 1), "unfold: x is complex; the oracle is real float64 only"),
    (lambda: O.magnitude(O.conv, X5, W123 + 0j),
     "magnitude: array is complex; the oracle is real float64 only"),
    # rank checks: 2-D input is not (N, C, *spatial) anywhere
    (lambda: O.conv_transpose(_Z((1, 5)), W123),
     "conv_transpose: input must be (N, I, *spatial) with >= 1 spatial dim, got shape (1, 5)"),
    (lambda: O.conv_transpose(_Z((1, 1, 5, 5)), W123),
     "conv_transpose: rank mismatch: input shape (1, 1, 5, 5) has 2 spatial dims but kernel "
     "shape (1, 1, 3) has 1"),
    (lambda: O.flip(_Z((2, 3))), "flip: kernel must be (O, I, *k), got shape (2, 3)"),
    (lambda: O.pixel_shuffle(_Z((4, 4)), 2),
     "pixel_shuffle: input must be (N, C, *spatial), got shape (4, 4)"),
    (lambda: O.pixel_unshuffle(_Z((4, 4)), 2),
     "pixel_unshuffle: input must be (N, C, *spatial), got shape (4, 4)"),
    (lambda: O.depth_to_space(_Z((4, 4)), 2),
     "depth_to_space: input must be (N, C, *spatial), got shape (4, 4)"),
    (lambda: O.space_to_depth(_Z((4, 4)), 2),
     "space_to_depth: input must be (N, C, *spatial), got shape (4, 4)"),
    (lambda: O.max_pool(_Z((2, 4)), 2), "max_pool: input must be (N, C, *spatial), got shape (2, 4)"),
    (lambda: O.avg_pool(_Z((2, 4)), 2), "avg_pool: input must be (N, C, *spatial), got shape (2, 4)"),
    (lambda: O.max_unpool(_Z((1, 2)), _Z((1, 2), int), (4,)),
     "max_unpool: input must be (N, C, *spatial), got shape (1, 2)"),
    (lambda: O.unfold(_Z((2, 4)), 2), "unfold: input must be (N, C, *spatial), got shape (2, 4)"),
    (lambda: O.linear(_Z((2, 3)), _Z((3,))), "linear: weight must be (out, in), got shape (3,)"),
    (lambda: O.linear(_Z(()), _Z((2, 3))),
     "linear: input shape () last dim != in_features 3 of weight shape (2, 3)"),
    (lambda: O.conv_input_grad(_Z((1, 1, 3)), W123, (1, 5)),
     "conv_input_grad: input_shape=(1, 5) must have 3 entries (or 1 spatial sizes)"),
    (lambda: O.conv_weight_grad(X5, _Z((1, 1, 3)), (1, 1, 1, 3)),
     "conv_weight_grad: kernel_shape=(1, 1, 1, 3) must have 3 entries (or 1 spatial sizes)"),
    (lambda: O.conv_weight_grad(X5, _Z((1, 3)), (3,)),
     "conv_weight_grad: grad_out shape (1, 3) != conv output shape (1, 3, 3) for input shape "
     "(1, 1, 5) and kernel shape (3, 1, 3)"),
    (lambda: O.conv_weight_grad(X5, _Z((3,)), (3,)),
     "conv_weight_grad: grad_out shape (3,) must be (N, O, *out)"),
    # argument checks
    (lambda: O.conv(_Z((1, 3, 5)), _Z((2, 2, 3))),
     "conv: input has 3 channels but kernel expects 2 per group × groups=1 (input shape "
     "(1, 3, 5), kernel shape (2, 2, 3))"),
    (lambda: O.conv(X5, W123, dilation=(0,)), "conv: dilation=(0,) must be >= 1 in every dim"),
    (lambda: O.conv_input_grad(_Z((1, 1, 3)), W123, (5,), stride=0),
     "conv_input_grad: stride=0 must be >= 1 in every dim"),
    (lambda: O.conv_weight_grad(X5, _Z((1, 1, 3)), (3,), dilation=0),
     "conv_weight_grad: dilation=0 must be >= 1 in every dim"),
    (lambda: O.conv_transpose_output_size(5, 3, padding=(1, 2, 3)),
     "conv_transpose_output_size: padding=[(1, 2, 3)] must be an int, 1 ints or 1 (before, "
     "after) pairs (one per spatial dim)"),
    (lambda: O.conv(X5, _Z((1, 1, 0))), "conv: empty kernel, kernel shape (1, 1, 0)"),
    (lambda: O.conv_transpose(X5, _Z((1, 1, 0))),
     "conv_transpose: empty kernel, kernel shape (1, 1, 0)"),
    (lambda: O.conv_transpose(X5, W123, groups=0), "conv_transpose: groups=0 must be >= 1"),
    (lambda: O.conv_transpose(X5, W123, np.ones(2)),
     "conv_transpose: bias shape (2,) != (1,) for kernel shape (1, 1, 3) and groups=1"),
    # output size exactly 0 (the message must not wait for a negative size)
    (lambda: O.conv_transpose(_Z((1, 1, 1)), _Z((1, 1, 2)), padding=1),
     "conv_transpose: non-positive output size (0,) (input shape (1, 1, 1), kernel shape "
     "(1, 1, 2), stride (1,), padding ((1, 1),), dilation (1,), output_padding (0,))"),
    # an empty input is rejected even when the formula gives a positive size
    (lambda: O.conv_transpose(_Z((1, 1, 0)), W123),
     "conv_transpose: non-positive output size (2,) (input shape (1, 1, 0), kernel shape "
     "(1, 1, 3), stride (1,), padding ((0, 0),), dilation (1,), output_padding (0,))"),
    (lambda: O.conv_transpose(X5, W123, stride=0), "conv_transpose: stride=0 must be >= 1 in every dim"),
    (lambda: O.conv_transpose(X5, W123, dilation=0),
     "conv_transpose: dilation=0 must be >= 1 in every dim"),
    (lambda: O.conv_transpose(X5, W123, output_padding=-1),
     "conv_transpose: output_padding=-1 must be >= 0 in every dim"),
    (lambda: O.conv_transpose(X5, W123, padding="same"),
     "conv_transpose: padding='same' not supported here; use an int, 1 ints, 1 (before, after) "
     "pairs or 'valid'"),
    (lambda: O.conv(X5, np.ones((1, 1, 9)), padding=[(2, 1)]),
     "conv: kernel larger than padded input in spatial dim 0: effective kernel size 9 > padded "
     "size 8 (input shape (1, 1, 5), kernel shape (1, 1, 9), padding ((2, 1),), dilation (1,))"),
    (lambda: O.conv(X5, W123, stride="2"), "conv: stride='2' must be an int or a sequence of 1 ints"),
    (lambda: O.conv(X44, np.ones((1, 1, 2, 2)), padding=[1]),
     "conv: padding=[1] must be an int, 2 ints or 2 (before, after) pairs (one per spatial dim)"),
    (lambda: O.conv(X5, W123, padding=1.5),
     "conv: padding=1.5 must be an int, 1 ints or 1 (before, after) pairs (one per spatial dim)"),
    (lambda: O.conv(X5, W123, padding=[(1, 2, 3)]),
     "conv: padding=[(1, 2, 3)] must be an int, 1 ints or 1 (before, after) pairs (one per "
     "spatial dim)"),
    (lambda: O.conv_output_size(5, 3, stride=0), "conv_output_size: stride=0 must be >= 1 in every dim"),
    (lambda: O.conv_output_size(5, 3, dilation=0),
     "conv_output_size: dilation=0 must be >= 1 in every dim"),
    (lambda: O.conv_output_size(5, 3, padding="full"),
     "conv_output_size: padding='full' not supported here; use an int, 1 ints, 1 (before, after) "
     "pairs, 'valid' or 'same'"),
    (lambda: O.conv_transpose_output_size(5, 3, stride=0),
     "conv_transpose_output_size: stride=0 must be >= 1 in every dim"),
    (lambda: O.conv_transpose_output_size(5, 3, dilation=0),
     "conv_transpose_output_size: dilation=0 must be >= 1 in every dim"),
    (lambda: O.same_padding(-1, 3),
     "same_padding: need n >= 0, k >= 1, stride >= 1, dilation >= 1 (got n=-1, k=3, stride=1, "
     "dilation=1)"),
    (lambda: O.same_padding(4, 0),
     "same_padding: need n >= 0, k >= 1, stride >= 1, dilation >= 1 (got n=4, k=0, stride=1, "
     "dilation=1)"),
    (lambda: O.same_padding(4, 3, dilation=0),
     "same_padding: need n >= 0, k >= 1, stride >= 1, dilation >= 1 (got n=4, k=3, stride=1, "
     "dilation=0)"),
    (lambda: O.linear(_Z((2, 3)), _Z((2, 3)), _Z(3)),
     "linear: bias shape (3,) != (2,) for weight shape (2, 3)"),
    (lambda: O.pixel_shuffle(_Z((1, 4, 2, 2)), 0), "pixel_shuffle: r=0 must be >= 1 in every dim"),
    (lambda: O.pixel_shuffle(_Z((1, 4, 2, 2)), (2, 2, 2)),
     "pixel_shuffle: r=(2, 2, 2) has 3 entries but there are 2 spatial dims"),
    (lambda: O.pixel_unshuffle(_Z((1, 1, 4, 3)), 2),
     "pixel_unshuffle: spatial dim 1 of input shape (1, 1, 4, 3) not divisible by r=2"),
    (lambda: O.space_to_depth(_Z((1, 1, 4, 3)), 2),
     "space_to_depth: spatial dim 1 of input shape (1, 1, 4, 3) not divisible by r=2"),
    (lambda: O.pixel_shuffle(_Z((1, 6, 2, 2)), 2),
     "pixel_shuffle: channels 6 of input shape (1, 6, 2, 2) not divisible by r**ndim=4"),
    (lambda: O.depth_to_space(_Z((1, 6, 2, 2)), 2),
     "depth_to_space: channels 6 of input shape (1, 6, 2, 2) not divisible by r**ndim=4"),
    (lambda: O.max_pool(_Z((1, 1, 4)), 0), "max_pool: kernel=0 must be >= 1 in every dim"),
    (lambda: O.max_pool(_Z((1, 1, 4)), 2, stride=0), "max_pool: stride=0 must be >= 1 in every dim"),
    (lambda: O.max_pool(_Z((1, 1, 4)), 2, dilation=0),
     "max_pool: dilation=0 must be >= 1 in every dim"),
    (lambda: O.avg_pool(_Z((1, 1, 4)), 0), "avg_pool: kernel=0 must be >= 1 in every dim"),
    (lambda: O.avg_pool(_Z((1, 1, 4)), 2, stride=0), "avg_pool: stride=0 must be >= 1 in every dim"),
    (lambda: O.avg_pool(X_POOL, 2, padding="same"),
     "avg_pool: padding='same' not supported (TF excludes the padding from the average, "
     "count_include_pad=True would not)"),
    (lambda: O.avg_pool(_Z((1, 1, 4)), 2, padding=2, count_include_pad=False),
     "avg_pool: some windows lie entirely in the padding in spatial dim 0 (input shape (1, 1, 4), "
     "kernel (2,), stride (2,), padding ((2, 2),), dilation (1,)): with count_include_pad=False "
     "their average is 0/0"),
    (lambda: O.max_pool(_Z((1, 1, 4)), 2, padding="full"),
     "max_pool: padding='full' not supported here; use an int, 1 ints, 1 (before, after) pairs, "
     "'valid' or 'same'"),
    # dim 1 (size 1, 3 channels): taps -1 and 1 both miss the one real pixel
    (lambda: O.max_pool(_Z((1, 3, 2, 1)), (1, 2), stride=1, padding=[0, 1], dilation=(1, 2)),
     "max_pool: some windows lie entirely in the padding in spatial dim 1 (input shape "
     "(1, 3, 2, 1), kernel (1, 2), stride (1, 1), padding ((0, 0), (1, 1)), dilation (1, 2))"),
    (lambda: O.max_unpool(_Z((1, 1, 2)), _Z((1, 1, 2)), (4,)),
     "max_unpool: indices shape (1, 1, 2) (dtype float64) must be an integer array of the input "
     "shape (1, 1, 2)"),
    (lambda: O.max_unpool(_Z((1, 1, 2)), _Z((1, 1, 2), int), (2, 1, 4)),
     "max_unpool: output_size (2, 1, 4) does not match (N, C) of input shape (1, 1, 2)"),
    (lambda: O.max_unpool(_Z((1, 1, 2)), _Z((1, 1, 2), int), (4, 4)),
     "max_unpool: output_size (4, 4) must have 1 spatial sizes (input shape (1, 1, 2))"),
    (lambda: O.max_unpool(_Z((1, 1, 2)), np.array([[[0, 4]]]), (4,)),
     "max_unpool: indices out of range [0, 4) for output_size (4,)"),
    (lambda: O.max_unpool(_Z((1, 1, 2)), np.array([[[-1, 0]]]), (4,)),
     "max_unpool: indices out of range [0, 4) for output_size (4,)"),
    (lambda: O.unfold(_Z((1, 1, 4)), 0), "unfold: kernel=0 must be >= 1 in every dim"),
    (lambda: O.unfold(_Z((1, 1, 4)), 2, stride=0), "unfold: stride=0 must be >= 1 in every dim"),
    (lambda: O.abs_bound_conv(X5, W123, b=np.ones(1)),
     "abs_bound_conv: no bias; it is not part of the product magnitude"),
])
def test_error_messages_exact(call, message):
    """Design rule 7, literally: the whole message, naming the op, the argument and the shapes
    (``test_errors`` above matches fragments; this pins every raise site's text)."""
    with pytest.raises(OracleError) as info:
        call()
    assert str(info.value) == message
