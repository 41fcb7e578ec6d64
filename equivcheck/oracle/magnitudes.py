"""Magnitudes for the tolerance model: an op applied to the absolute values of its inputs, the
sum of |terms| that bounds its rounding error (``equivcheck.op_bounds``, ``equivcheck.tolerance``).
"""

import numpy as np

from equivcheck.oracle._core import OracleError, _f64
from equivcheck.oracle.convolution import conv


def magnitude(fn, *arrays, **kwargs):
    """``fn`` applied to the absolute values of ``arrays``: the sum of |terms| bound.

    >>> from equivcheck.oracle import linear
    >>> magnitude(linear, np.array([[1., -2.]]), np.array([[3., -4.]]))
    array([[11.]])
    """
    return fn(*(np.abs(_f64(a, "magnitude", "array")) for a in arrays), **kwargs)


def abs_bound_conv(x, w, **conv_kwargs):
    """``conv(|x|, |w|)`` without bias: per output, sum of |x*w| over the window.

    >>> abs_bound_conv(np.array([[[1., -2., 3.]]]), np.array([[[-1., 1.]]]))
    array([[[3., 5.]]])
    """
    if "b" in conv_kwargs:
        raise OracleError("abs_bound_conv: no bias; it is not part of the product magnitude")
    return magnitude(conv, x, w, **conv_kwargs)
