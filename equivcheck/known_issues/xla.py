"""Guard for the one crash item on the jax and flax columns, as the soaks found and shrank it.

**XLA: the convolution operand swap with a base-dilated group dimension**
(jaxlib 0.4.30, 0.10.2 and 0.12.0.1; the compiler *aborts the process*, which nothing can
catch).  XLA's algebraic simplifier swaps a convolution's input and kernel
when the kernel's window is the larger one (the product of the window sizes
over the dimensions that are not skipped is larger than the product of the
input sizes).  It skips ("keeps as is") two kinds of spatial dimension: a pure
contraction dimension (window size = input size, no padding, no dilation,
stride 1) and what it calls a group dimension (no padding, no window
dilation, base dilation = window size, stride = window size − 1: a window of
2 over an input dilated by 2 at stride 1).  A kept group dimension whose input
size differs from its window size makes the swapped convolution invalid
("Window dimensions do not match RHS shape") and the compiler aborts with
``Check failed: computation->Accept(this)``.  A base dilation on a size-1
dimension is a no-op and does not count.  A user meets it with
``lax.conv_transpose`` (or ``flax.linen.ConvTranspose``) at stride 2 with a
2-wide kernel and padding 1 in one dimension, and a kernel wider than the
(padded) input in another.  Minimal program, 2-D, NCHW/OIHW: input 1×1×1×3,
kernel 1×1×2×2, padding ((0, 1), (0, 0)), lhs_dilation (1, 2).  The JAX and
Flax adapters trace each new transposed-conv program and check every
convolution in it (:func:`check_program`).
"""
from __future__ import annotations

from equivcheck.known_issues.record import KnownIssueSkip
from equivcheck.known_issues.versions import OPERAND_SWAP_ABORT, affected


def operand_swap_aborts(sizes, window, strides, padding, lhs_dilation, rhs_dilation,
                        feature_group_count: int = 1, batch_group_count: int = 1) -> bool:
    """Whether XLA's operand swap breaks this convolution (see the module docstring).

    ``sizes``/``window``: the input's and the kernel's spatial sizes; the rest per spatial
    dimension as ``lax.conv_general_dilated`` takes them.  Window reversal is taken as absent
    (jax expresses a kernel flip as a separate reverse op).
    """
    if feature_group_count > 1 or batch_group_count > 1:
        return False
    kernel_product = swapped_product = 1
    broken_group_dim = False
    for n, k, stride, (low, high), base, dil in zip(sizes, window, strides, padding, lhs_dilation, rhs_dilation):
        base = 1 if n == 1 else base          # dilating a single pixel changes nothing
        plain = low == 0 and high == 0 and dil == 1
        if plain and base == k and stride == k - 1:        # kept: a "group" dimension
            broken_group_dim |= n != k
            continue
        if plain and k == n and base == 1 and stride == 1:  # kept: a pure contraction dimension
            continue
        kernel_product *= k
        full_padding = n == 1 and stride == 1 and dil == 1 and low == high == k - 1
        swapped_product *= k if full_padding else n
    return kernel_product > swapped_product and broken_group_dim


def _sub_jaxprs(value):
    if hasattr(value, "eqns"):
        yield value
    elif hasattr(value, "jaxpr") and hasattr(value.jaxpr, "eqns"):
        yield value.jaxpr
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _sub_jaxprs(item)


def _convolutions(jaxpr):
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "conv_general_dilated":
            yield eqn
        for value in eqn.params.values():
            for sub in _sub_jaxprs(value):
                yield from _convolutions(sub)


def check_program(jaxpr, jaxlib_version: str) -> None:
    """Raise :class:`KnownIssueSkip` if any convolution in ``jaxpr`` (a traced program,
    nested calls included) would make this jaxlib's compiler abort."""
    if not affected(jaxlib_version, OPERAND_SWAP_ABORT):
        return
    for eqn in _convolutions(jaxpr):
        p = eqn.params
        lhs, rhs = (v.aval.shape for v in eqn.invars[:2])
        lhs_spec, rhs_spec = p["dimension_numbers"].lhs_spec, p["dimension_numbers"].rhs_spec
        sizes = [lhs[axis] for axis in lhs_spec[2:]]
        window = [rhs[axis] for axis in rhs_spec[2:]]
        if operand_swap_aborts(sizes, window, p["window_strides"], p["padding"], p["lhs_dilation"],
                               p["rhs_dilation"], p["feature_group_count"], p["batch_group_count"]):
            # one wording per defect and version, so results group the examples it stopped
            raise KnownIssueSkip(
                f"not run: jaxlib {jaxlib_version}'s XLA CPU compiler aborts the process on such a convolution "
                f"(operand swap with a base-dilated group dimension; see equivcheck/known_issues/)")
