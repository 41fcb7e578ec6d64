"""Known XLA compiler defects that abort the process, checked before a program is compiled.

An abort in native code cannot be caught, so the JAX and Flax adapters ask this
module, once per new program × input shapes, whether XLA is known to abort on
it.  If so, the example raises :class:`KnownFrameworkDefect` (verdict ``n/a``
for that one example, counted in the result's ``skipped``) instead of killing
the worker.  ``tests/test_xla_defects.py`` checks, in a subprocess, that the
installed jaxlib still aborts on the minimal program: when XLA is fixed, that
test fails and says to narrow the version range here.

The one defect known so far (found by the JAX/Flax soak, shrunk by hand):

**XLA's convolution operand swap with a base-dilated "group" dimension.**
XLA's algebraic simplifier swaps a convolution's input and kernel when the
kernel's window is the larger one (the product of the window sizes over the
dimensions that are not skipped is larger than the product of the input
sizes).  It skips ("keeps as is") two kinds of spatial dimension: a pure
contraction dimension (window size = input size, no padding, no dilation,
stride 1) and what it calls a group dimension (no padding, no window
dilation, base dilation = window size, stride = window size − 1: a window of
2 over an input dilated by 2 at stride 1).  A kept group dimension whose input
size differs from its window size makes the swapped convolution invalid
("Window dimensions do not match RHS shape") and the compiler aborts with
``Check failed: computation->Accept(this)``.  A base dilation on a size-1
dimension is a no-op and does not count.

A user meets it with ``lax.conv_transpose`` (or ``flax.linen.ConvTranspose``)
at stride 2 with a 2-wide kernel and padding 1 in one dimension, and a kernel
wider than the (padded) input in another.  Minimal program, 2-D, NCHW/OIHW:
input 1×1×1×3, kernel 1×1×2×2, padding ((0, 1), (0, 0)), lhs_dilation (1, 2).
Seen with jaxlib 0.4.30 and 0.10.2 (the newest available here).
"""
from __future__ import annotations

from equivcheck.backends.base import NotApplicable

#: jaxlib versions known to abort (inclusive range); the test pins both ends it can see.
OPERAND_SWAP_ABORT = {"first_seen": "0.4.30", "last_seen": "0.10.2"}

#: The minimal program, for the test and the docs: lax.conv_general_dilated arguments.
MINIMAL = {"lhs_shape": (1, 1, 1, 3), "rhs_shape": (1, 1, 2, 2), "padding": ((0, 1), (0, 0)),
           "lhs_dilation": (1, 2), "window_strides": (1, 1), "rhs_dilation": (1, 1)}


class KnownFrameworkDefect(NotApplicable):
    """The framework is known to crash the process on this example, so it is not run."""


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def affected(jaxlib_version: str) -> bool:
    """Whether this jaxlib is inside the range the operand-swap abort is known for (older ones
    are assumed affected too: the code is years old; newer ones are run, so a fix shows)."""
    return _version_tuple(jaxlib_version) <= _version_tuple(OPERAND_SWAP_ABORT["last_seen"])


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
    """Raise :class:`KnownFrameworkDefect` if any convolution in ``jaxpr`` (a traced program,
    nested calls included) would make this jaxlib's compiler abort."""
    if not affected(jaxlib_version):
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
            raise KnownFrameworkDefect(
                f"not run: jaxlib {jaxlib_version}'s XLA CPU compiler aborts the process on such a convolution "
                f"(operand swap with a base-dilated group dimension; see equivcheck/backends/xla_defects.py)")
