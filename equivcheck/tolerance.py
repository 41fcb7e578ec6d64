"""Bound-based comparison: the tolerance is derived from an error model, never a constant.

For an output that sums ``n`` products in a precision with unit roundoff ``u``,
each computed side obeys::

    |computed - exact| <= c(n) * u * sum_i |x_i * w_i|

- ``sum |x*w|`` (the *magnitude*) is exact information the oracle gives:
  ``conv(|x|, |w|)`` in float64.  Case bodies pass it as ``magnitude``.
- ``c(n) = SAFETY * sqrt(n) + 1``: rounding errors of a length-n dot product
  behave like a random walk, so their sum grows like ``sqrt(n) * u`` (Higham,
  "Accuracy and Stability of Numerical Algorithms", §3.6 / Higham & Mary 2019,
  "A new approach to probabilistic rounding error analysis"); the ``+1`` is the
  final rounding of the output itself.  The worst case ``n * u`` is reachable
  only by adversarial data and would hide real 1e-3 errors for large n.
- ``SAFETY`` was chosen by measurement: the soak script
  (``scripts/soak.py``) records the largest observed ``err / (sqrt(n) u mag)``
  over every claim and framework; the README shows the figure.  With the
  inputs rounded to the run dtype before they reach the oracle (see
  :meth:`equivcheck.checker.Checker.array`), the only error left is the
  framework's accumulation, so the bound stays tight.
- ``dtype`` is the precision the framework *computes* in (:func:`compute_precision`),
  not always the run dtype: a float32 run on a GPU with TF32 allowed
  (``--allow-tf32``) computes convolutions and matmuls in TF32, whose unit
  roundoff is ``2**-11`` instead of ``2**-24``, so its bound is ``2**13`` times
  wider for the same terms and magnitude.
- ``sides``: when both compared values are computed by the framework, their
  errors add (``sides=2``); against the float64 oracle, ``sides=1``.

What the bound can and cannot detect (cancellation, TF32) is in ``docs/TOLERANCE.md``.

>>> r = compare([1.0, 2.0], [1.0, 2.0 + 1e-7], magnitude=[1.0, 2.0], terms=4, dtype="float32")
>>> r.ok, r.max_abs_err > 0
(True, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Explicitly stored mantissa (fraction) bits per compute precision.  "tf32" is NVIDIA's TensorFloat-32:
#: float32's exponent with a 10-bit mantissa, used for float32 matmuls/convs on Ampere and later GPUs
#: when TF32 is allowed (inputs rounded to 10 bits, products accumulated in float32).
MANTISSA_BITS = {"float32": 23, "float64": 52, "tf32": 10}

#: Unit roundoff u = 2**-(mantissa bits + 1) per compute precision (round to nearest).
UNIT_ROUNDOFF = {name: 2.0 ** -(bits + 1) for name, bits in MANTISSA_BITS.items()}



def compute_precision(dtype: str, device: str = "cpu", allow_tf32: bool = False) -> str:
    """The precision a framework computes a ``dtype`` run in: ``"tf32"`` for float32 on a GPU with
    TF32 allowed (cuBLAS/cuDNN then round matmul and conv inputs to 10 mantissa bits), else ``dtype``.

    >>> compute_precision("float32", "gpu", allow_tf32=True), compute_precision("float32", "gpu")
    ('tf32', 'float32')
    >>> compute_precision("float32", "cpu", allow_tf32=True), compute_precision("float64", "gpu", allow_tf32=True)
    ('float32', 'float64')
    """
    return "tf32" if dtype == "float32" and device == "gpu" and allow_tf32 else dtype


#: Multiplier of sqrt(n); see the module docstring for how it was measured.
SAFETY = 4.0


def c(n: int) -> float:
    """The error-growth factor c(n) for a sum of ``n`` products.

    >>> c(1), round(c(576), 1)
    (5.0, 97.0)
    """
    if n < 1:
        raise ValueError(f"c(n): the number of summed terms must be >= 1, got {n}")
    return SAFETY * math.sqrt(n) + 1.0


def bound(magnitude, terms: int, dtype: str, sides: int = 2):
    """Elementwise error bound ``sides * c(n) * u * magnitude``.

    >>> float(bound(1.0, 1, "float64", sides=1)) == 5 * 2.0**-53
    True
    """
    if dtype not in UNIT_ROUNDOFF:
        raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(UNIT_ROUNDOFF)}")
    return sides * c(terms) * UNIT_ROUNDOFF[dtype] * np.asarray(magnitude, dtype=np.float64)


@dataclass
class Comparison:
    """The outcome of one comparison, with everything a failure message needs."""

    ok: bool
    max_abs_err: float
    bound: float  # the bound at the element with the largest err/bound ratio
    ratio: float  # max over elements of err / bound (0 when both are 0)
    where: tuple | None = None  # index of the worst element
    got: float | None = None
    want: float | None = None
    reason: str = ""  # set for shape mismatches and non-finite values

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _first_nonfinite(array: np.ndarray):
    bad = np.argwhere(~np.isfinite(array))
    return tuple(int(i) for i in bad[0]) if len(bad) else None


def compare(got, want, *, magnitude, terms: int, dtype: str, sides: int = 2) -> Comparison:
    """Compare ``got`` with ``want`` elementwise against the derived bound.

    >>> compare([1.0], [1.001], magnitude=[1.0], terms=1, dtype="float32").ok
    False
    """
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return Comparison(False, math.inf, 0.0, math.inf, reason=f"shape {got.shape} != {want.shape}")
    for name, array in (("result", got), ("reference", want)):
        location = _first_nonfinite(array)
        if location is not None:
            return Comparison(False, math.inf, 0.0, math.inf, where=location, got=float(got[location]),
                              want=float(want[location]),
                              reason=f"non-finite value {float(array[location])} in the {name} at index {location}")
    limit = bound(magnitude, terms, dtype, sides)
    try:
        limit = np.broadcast_to(limit, got.shape)
    except ValueError:  # both sides agree on a shape that is not the op's (e.g. two results of a wrong op)
        return Comparison(False, math.inf, 0.0, math.inf,
                          reason=f"shape {got.shape} is not the op's output shape {np.shape(limit)}")
    error = np.abs(got - want)
    if error.size == 0:
        return Comparison(True, 0.0, 0.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(error == 0, 0.0, error / limit)
    worst = np.unravel_index(int(np.argmax(ratios)), ratios.shape)
    ratio = float(ratios[worst])
    return Comparison(
        ok=bool(ratio <= 1.0),
        max_abs_err=float(error.max()),
        bound=float(limit[worst]),
        ratio=ratio,
        where=tuple(int(i) for i in worst),
        got=float(got[worst]),
        want=float(want[worst]),
    )


def conv_terms(kernel_shape, bias: bool = False) -> int:
    """Products summed per conv output: ``(I/groups) * prod(k)``, plus one for a bias.

    Works for canonical conv kernels ``(O, I/groups, *k)`` and dense ``(out, in)``.

    >>> conv_terms((16, 8, 7, 7)), conv_terms((5, 3), bias=True)
    (392, 4)
    """
    per_output = int(math.prod(kernel_shape[1:]))
    return per_output + (1 if bias else 0)
