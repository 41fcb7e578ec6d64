"""What each oracle op sums, written once next to the ops: Σ|x·w| and the number of products per output.

The error model of :mod:`equivcheck.tolerance` needs, for every output element, the magnitude
Σ|x_i·w_i| of the products it sums and their number n.  Both follow from the op's definition, so they
are derived here from the op and its arguments, never written by hand in a case:

- **magnitude**: the op itself applied to the absolute values of its array arguments (bias
  included: it is one more term of the sum), other arguments unchanged (``oracle.magnitude``'s rule,
  which cannot be used as it is for the gradients, whose shape argument is positional).
- **terms**: products summed per output, from the op's definition (table :data:`OPS`):

  ========================  ====================================================================
  op                        products per output element
  ========================  ====================================================================
  ``conv``, ``convolve``    (I/groups)·prod(k), +1 with a bias
  ``conv_transpose``        (I/groups)·prod(k), +1 with a bias: the stride-1 conv of the
                            zero-inserted input that defines it (an upper bound on the nonzero
                            products: with stride s only about ceil(k/s) taps per dimension reach
                            an output; the exact zeros add no rounding error)
  ``conv_input_grad``       (O/groups)·prod(k): a ``conv_transpose`` of the output gradient
  ``conv_weight_grad``      N·prod(out): every output position of every example
  ``linear``                in_features, +1 with a bias
  ``avg_pool``              prod(kernel) (the division is the final rounding); with
                            ``count_include_pad=False`` a window sums only its in-bounds values,
                            at most prod(kernel) of them, so prod(kernel) still bounds the count,
                            and the magnitude avg_pool(|x|) divides by the same in-bounds count
  ``circular_correlation``  C·prod(k), +1 with a bias (a conv of the wrap-padded input)
  ``batch_norm``            4, with its own magnitude (below)
  ========================  ====================================================================

- **batch_norm** is elementwise: (x − mean)/√(var + eps)·gamma + beta.  However a framework
  arranges it (folded as x·scale + (beta − mean·scale), or with rsqrt), it rounds var + eps, the
  square root (worth half a unit on the scale), the division, the products with gamma and with x,
  the mean term and the addition of beta: at most 6.5 units of u, first order, each on a quantity
  no larger than the magnitude (|x| + |mean|)·|gamma|/√(var + eps) + |beta| (the op on absolute
  values would subtract |mean| and is no bound).  terms = 4 gives c(4) = 9 units, leaving 2.5 for
  an rsqrt a few ulp off.

- **exact** ops move data and compute nothing (``max_pool``, ``max_unpool``, ``pad``, ``pixel_shuffle``,
  ``pixel_unshuffle``, ``depth_to_space``, ``space_to_depth``, ``flip``, ``unfold``): their result
  must be bit-identical (``terms`` is None; :meth:`equivcheck.checker.Checker.matches` compares
  with ``identical``).

>>> import numpy as np
>>> x, w = np.ones((1, 4, 5, 5)), np.ones((6, 2, 3, 3))
>>> terms(oracle.conv, x, w, groups=2), terms(oracle.conv, x, w, np.ones(6), groups=2)
(18, 19)
>>> float(magnitude(oracle.linear, np.array([[1., -2.]]), np.array([[3., -4.]]))[0, 0])
11.0
"""
from __future__ import annotations

import functools
import inspect
import math
from typing import Callable, NamedTuple

import numpy as np

from equivcheck import oracle


class OpBound(NamedTuple):
    """How one oracle op sums: the names of its array arguments (made absolute for the magnitude)
    and its products per output element from its bound arguments (None: exact data movement);
    ``magnitude``, when given, replaces the op-on-absolute-values rule (bound arguments -> array)."""

    arrays: tuple[str, ...]
    terms: Callable[[dict], int] | None
    magnitude: Callable[[dict], np.ndarray] | None = None


def _bias(args: dict) -> int:
    return 0 if args.get("b") is None else 1


def _groups(args: dict) -> int:
    return int(args.get("groups", args.get("conv_kwargs", {}).get("groups", 1)))


def _conv(args: dict) -> int:
    return math.prod(np.shape(args["w"])[1:]) + _bias(args)


def _conv_transpose(args: dict) -> int:
    w = np.shape(args["w"])
    return w[0] // _groups(args) * math.prod(w[2:]) + _bias(args)


def _conv_input_grad(args: dict) -> int:
    w = np.shape(args["w"])
    return w[0] // _groups(args) * math.prod(w[2:])


def _conv_weight_grad(args: dict) -> int:
    gy = np.shape(args["grad_out"])
    return gy[0] * math.prod(gy[2:])


def _linear(args: dict) -> int:
    return np.shape(args["w"])[1] + _bias(args)


def _avg_pool(args: dict) -> int:
    kernel, rank = args["kernel"], np.ndim(args["x"]) - 2
    return int(kernel) ** rank if np.ndim(kernel) == 0 else math.prod(kernel)


def _circular(args: dict) -> int:
    return math.prod(np.shape(args["w"])[1:]) + _bias(args)


def _batch_norm_magnitude(args: dict) -> np.ndarray:
    x = np.abs(np.asarray(args["x"], dtype=np.float64))
    shape = (-1,) + (1,) * (x.ndim - 2)

    def channel(name):
        return np.abs(np.asarray(args[name], dtype=np.float64)).reshape(shape)
    scale = channel("gamma") / np.sqrt(channel("var") + float(args["eps"]))
    return (x + channel("mean")) * scale + channel("beta")


#: The oracle ops a case may name in ``ctx.matches`` / ``ctx.agree``, and how each sums.
OPS: dict[Callable, OpBound] = {
    oracle.conv: OpBound(("x", "w", "b"), _conv),
    oracle.convolve: OpBound(("x", "w", "b"), _conv),
    oracle.conv_transpose: OpBound(("x", "w", "b"), _conv_transpose),
    oracle.conv_input_grad: OpBound(("grad_out", "w"), _conv_input_grad),
    oracle.conv_weight_grad: OpBound(("x", "grad_out"), _conv_weight_grad),
    oracle.linear: OpBound(("x", "w", "b"), _linear),
    oracle.avg_pool: OpBound(("x",), _avg_pool),
    oracle.circular_correlation: OpBound(("x", "w", "b"), _circular),
    oracle.batch_norm: OpBound(("x", "mean", "var", "gamma", "beta"), lambda args: 4,
                               _batch_norm_magnitude),
    oracle.max_pool: OpBound(("x",), None),
    oracle.pad: OpBound(("x",), None),
    oracle.max_unpool: OpBound(("y",), None),
    oracle.pixel_shuffle: OpBound(("x",), None),
    oracle.pixel_unshuffle: OpBound(("x",), None),
    oracle.depth_to_space: OpBound(("x",), None),
    oracle.space_to_depth: OpBound(("x",), None),
    oracle.flip: OpBound(("w",), None),
    oracle.unfold: OpBound(("x",), None),
}


def _lookup(op: Callable) -> OpBound:
    try:
        return OPS[op]
    except (KeyError, TypeError):
        name = getattr(op, "__name__", repr(op))
        raise ValueError(f"op_bounds: {name} is not an oracle op with a known error model; known: "
                         f"{', '.join(f.__name__ for f in OPS)}") from None


@functools.lru_cache(maxsize=None)
def _signature(op: Callable) -> inspect.Signature:
    """``inspect.signature(op)``, computed once per op (the checker binds arguments for every comparison)."""
    return inspect.signature(op)


def _bind(op: Callable, args: tuple, kwargs: dict) -> dict:
    bound = _signature(op).bind(*args, **kwargs)
    return dict(bound.arguments)


def terms(op: Callable, *args, **kwargs) -> int | None:
    """Products summed per output element of ``op(*args, **kwargs)`` (None for an exact op).

    >>> terms(oracle.conv_transpose, np.ones((1, 4, 3)), np.ones((4, 3, 2)), groups=2)
    4
    >>> terms(oracle.conv_weight_grad, np.ones((2, 1, 5)), np.ones((2, 1, 3)), (1, 1, 3)), terms(oracle.max_pool, np.ones((1, 1, 4)), 2)
    (6, None)
    """
    rule = _lookup(op).terms
    return None if rule is None else int(rule(_bind(op, args, kwargs)))


def magnitude(op: Callable, *args, **kwargs) -> np.ndarray:
    """``op`` on the absolute values of its array arguments: Σ|x·w| per output element.

    >>> magnitude(oracle.conv, np.array([[[1., -2., 3.]]]), np.array([[[-1., 1.]]]))
    array([[[3., 5.]]])
    """
    arrays, _, rule = _lookup(op)
    bound = _signature(op).bind(*args, **kwargs)
    if rule is not None:
        oracle_value = op(*bound.args, **bound.kwargs)      # validates the arguments, gives the shape
        return np.broadcast_to(rule(dict(bound.arguments)), oracle_value.shape)
    for name in arrays:
        if bound.arguments.get(name) is not None:
            bound.arguments[name] = np.abs(np.asarray(bound.arguments[name], dtype=np.float64))
    return op(*bound.args, **bound.kwargs)
