"""Independent NumPy float64 reference ("oracle") for convolution-family ops.

Every framework under test is compared against this package, so it is kept
small, explicit and free of any framework code.

Design rules
------------
1. Dependencies: NumPy and the standard library only.  Importing this package
   never imports torch, tensorflow, jax, flax or keras.
2. Precision: every computation is carried out in float64.  Inputs are cast
   with ``np.asarray(..., dtype=np.float64)``; results are float64 arrays
   (pooling indices are int64).
3. Layout: channels-first.  Activations are ``(N, C, *spatial)``; conv kernels
   are ``(O, I // groups, *k)``; transposed-conv kernels are
   ``(I, O // groups, *k)`` (the PyTorch convention).
4. One n-D code path, read like JAX's ``lax_reference``: 1-D, 2-D and 3-D
   (and higher) share the same code, built from four blocks -- ``_pad``
   (pad or crop the spatial axes), ``_dilate`` (zero insertion),
   ``_windows`` (strided view of all kernel windows) and ``_correlate``
   (the contraction of the windows with the kernel, the definition of
   every conv-family op).  There are no per-rank branches and no Python
   loops over pixels.
5. Speed lives elsewhere: the conv-family ops hand the contraction to
   :func:`equivcheck.oracle_fast.correlate` (BLAS GEMMs, im2col or shifted,
   chunked so that the gathered columns stay within
   ``IM2COL_BUDGET_BYTES``, overridable per call with ``budget_bytes=``).
   It computes the same sums as ``_correlate``, bit-identical on
   integer-valued data (``tests/test_oracle_fast.py``), to rounding
   otherwise.
6. Derived ops are written as their mathematical identities on top of
   ``conv``: ``conv_transpose`` is the adjoint of ``conv`` (zero insertion,
   padding by ``d*(k-1) - p``, spatially flipped kernel with in/out channels
   swapped); the input gradient is a ``conv_transpose``; the weight gradient
   is a ``conv`` of the input with the output gradient as kernel, with the
   roles of stride and dilation swapped.  ``circular_correlation`` is ``conv`` of the input padded
   with 'wrap' by ``k - 1`` at the end.  Pooling is a reduction over the
   same window view: max over the input padded with -inf, average as the
   window sum of the zero-padded input over the window sum of a mask of ones
   (which ones count is what ``count_include_pad`` decides); ``ceil_mode``
   only extends the padding at the end so that the last window exists.
7. Errors: bad input raises ``OracleError`` (a ``ValueError``) whose message
   names the op, the offending argument and the shapes involved.  Nothing is
   silently broadcast, clipped or truncated.

Files
-----
- ``_core.py``: ``OracleError``, argument normalisation (``same_padding``
  included: it is what ``padding='same'`` means) and the four blocks.
- ``convolution.py``: output sizes, ``conv``, ``convolve``, ``flip``,
  ``conv_transpose``, the two gradients, ``unfold``.
- ``pool.py``: ``pool_output_size``, ``max_pool``, ``max_unpool``, ``avg_pool``.
- ``shuffle.py``: ``pixel_shuffle`` / ``depth_to_space`` and their inverses.
- ``padding.py``: ``pad`` (NumPy's modes) and ``circular_correlation``.
- ``dense.py``: ``linear`` and inference ``batch_norm``.
- ``magnitudes.py``: the sum-of-|terms| magnitudes for the tolerance model.
"""

import numpy as np  # noqa: F401  (the docstrings' examples, run in this namespace, use np)

# _correlate: the plain definition of the contraction, which tests/test_oracle_fast.py holds
# equivcheck.oracle_fast to bit for bit (as oracle._correlate)
from equivcheck.oracle._core import OracleError, _correlate, same_padding
from equivcheck.oracle.convolution import (
    conv, conv_input_grad, conv_output_size, conv_transpose, conv_transpose_output_size,
    conv_weight_grad, convolve, flip, unfold)
from equivcheck.oracle.dense import batch_norm, linear
from equivcheck.oracle.magnitudes import abs_bound_conv, magnitude
from equivcheck.oracle.padding import PAD_MODES, circular_correlation, pad
from equivcheck.oracle.pool import avg_pool, max_pool, max_unpool, pool_output_size
from equivcheck.oracle.shuffle import (
    depth_to_space, pixel_shuffle, pixel_unshuffle, space_to_depth)

#: Upper bound (bytes) on the columns one GEMM chunk gathers (the im2col matrix,
#: or the shifted copies of the input).
#: Read at call time, so tests may monkeypatch it; ``budget_bytes=`` overrides it.
IM2COL_BUDGET_BYTES = 64 * 2**20

__all__ = [
    "IM2COL_BUDGET_BYTES",
    "OracleError",
    "same_padding",
    "conv_output_size",
    "conv_transpose_output_size",
    "conv",
    "convolve",
    "conv_transpose",
    "conv_input_grad",
    "conv_weight_grad",
    "linear",
    "flip",
    "pixel_shuffle",
    "pixel_unshuffle",
    "depth_to_space",
    "space_to_depth",
    "pool_output_size",
    "max_pool",
    "max_unpool",
    "avg_pool",
    "PAD_MODES",
    "pad",
    "batch_norm",
    "circular_correlation",
    "unfold",
    "magnitude",
    "abs_bound_conv",
]

# The public names keep the module they had when the oracle was one file: results name an error by
# its type's module (checker.error_info writes "equivcheck.oracle.OracleError"), and the docstring
# examples, which use the other public names unqualified, run in this namespace (doctest finds an
# object in the module its __module__ names).
for _name in __all__:
    if callable(globals()[_name]):
        globals()[_name].__module__ = __name__
del _name
