"""The ONE vocabulary of orders that are not axis orders.

Axis orders (NCHW, OIHW, …) live in :mod:`equivcheck.layouts`.  The conventions here are the other
orders a porter trips over: which flat index a max-pool's argmax counts, in which order the features
of an extracted patch come, where pixel shuffles put each channel, and how 'same' padding splits an
odd total.  Claims, the conventions report's probes and the layout table all name them from here.

Design rules
- One entry per convention, with a short ``key`` (what adapters declare, e.g. ``patch_order="C,k"``),
  the formula that defines it, the ``report`` name the conventions report prints, and the ``claim``
  name claims record as a fact (both spellings are the published texts: changing either changes
  docs/CONVENTIONS.md or results files, so they are data here, not code in a probe or a case).
- Formulas take plain integers or NumPy arrays alike.

>>> PATCH_ORDERS["k,C"].report
'kh,kw,C'
>>> ARGMAX["plane"].index(n=0, c=1, pos=5, channels=3, plane=12)
5
>>> describe_split(0, 1)
'0+1 (extra at end)'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Convention:
    """One named order: ``key`` (declared by adapters), ``report`` / ``claim`` names, and its formula."""

    key: str
    report: str
    claim: str | None
    formula: Callable


# ---- max-pool argmax: the flat index a max pool returns for the maximum at (n, c, pos) ------------
class _Argmax(Convention):
    def index(self, *, n, c, pos, channels, plane):
        """The index this convention gives the maximum of sample ``n``, channel ``c`` at row-major
        spatial position ``pos`` of a plane of ``plane`` positions (``channels`` channels)."""
        return self.formula(n, c, pos, channels, plane)


ARGMAX = {convention.key: convention for convention in (
    _Argmax("plane", "h·W + w per (n, c)", "per (n, c) plane, row-major over the spatial axes: h·W + w",
            lambda n, c, pos, channels, plane: pos),
    _Argmax("sample_channels_last", "(h·W + w)·C + c, batch excluded",
            "channels-last within each sample: (h·W + w)·C + c",
            lambda n, c, pos, channels, plane: pos * channels + c),
    _Argmax("batch_channels_last", "((n·H + h)·W + w)·C + c, batch included",
            "channels-last over the whole batch: ((n·H + h)·W + w)·C + c",
            lambda n, c, pos, channels, plane: (n * plane + pos) * channels + c),
    _Argmax("sample_channels_first", "c·H·W + h·W + w per n", None,
            lambda n, c, pos, channels, plane: c * plane + pos),
    _Argmax("batch_channels_first", "((n·C + c)·H + h)·W + w", "row-major over the whole NCHW tensor: "
            "((n·C + c)·H + h)·W + w", lambda n, c, pos, channels, plane: (n * channels + c) * plane + pos),
)}

#: The argmax conventions the report tells apart, in the order it tries them.
REPORTED_ARGMAX = ("plane", "sample_channels_last", "batch_channels_last", "sample_channels_first")
#: The candidates a claim about unpooling tries, in its order.
CLAIMED_ARGMAX = ("plane", "sample_channels_last", "batch_channels_last", "batch_channels_first")


# ---- patch extraction (im2col): the order of one patch's features -----------------------------------
PATCH_ORDERS = {convention.key: convention for convention in (
    # feature = c·prod(k) + row-major kernel offset (torch's F.unfold, lax's patches, the oracle)
    Convention("C,k", "C,kh,kw", "C,kh,kw", lambda c, offset, channels, taps: c * taps + offset),
    # feature = (row-major kernel offset)·C + c (tf.image.extract_patches)
    Convention("k,C", "kh,kw,C", "kh,kw,C", lambda c, offset, channels, taps: offset * channels + c),
)}


def patch_order_name(key: str | None) -> str | None:
    """The report's name of an adapter's declared patch order (None/unknown keys pass through).

    >>> patch_order_name("C,k"), patch_order_name(None)
    ('C,kh,kw', None)
    """
    return PATCH_ORDERS[key].report if key in PATCH_ORDERS else key


# ---- pixel shuffles: out[c, h·r + i, w·r + j] = in[formula(c, i, j, r, C')] ------------------------
SHUFFLE_ORDERS = {convention.key: convention for convention in (
    # PyTorch's pixel_shuffle / pixel_unshuffle
    Convention("CRD", "CRD", "CRD: in[c·r² + i·r + j]", lambda c, i, j, r, c_out: c * r * r + i * r + j),
    # TF's depth_to_space / space_to_depth, ONNX DepthToSpace mode DCR
    Convention("DCR", "DCR", "DCR: in[(i·r + j)·C' + c]", lambda c, i, j, r, c_out: (i * r + j) * c_out + c),
)}


# ---- 'same' padding: how an odd total is split ----------------------------------------------------
def describe_split(before: int, after: int) -> str:
    """The report's name of a (before, after) padding split.

    >>> describe_split(1, 1), describe_split(1, 0)
    ('1+1 (symmetric)', '1+0 (extra at start)')
    """
    if before == after:
        return f"{before}+{after} (symmetric)"
    return f"{before}+{after} ({'extra at end' if after > before else 'extra at start'})"


#: TF's rule, which lax, Flax, Keras and the oracle share: the odd pixel goes at the end.
SAME_SPLIT_RULE = "TF rule"


#: Padding modes, by NumPy's ``np.pad`` name (the canonical word every adapter and claim uses), with what
#: each means and the words the frameworks use for it.  ``symmetric`` repeats the edge pixel
#: (``abc|cba``), ``reflect`` does not (``abc|ba``).
PAD_MODES = {
    "constant": "zeros beyond the border (torch 'zeros'/'constant', tf.pad 'CONSTANT', ONNX 'constant')",
    "reflect": "mirror without repeating the edge pixel: abc → cb|abc|ba (torch 'reflect', tf.pad 'REFLECT', ONNX 'reflect')",
    "edge": "repeat the edge pixel: abc → aa|abc|cc (torch 'replicate', ONNX 'edge')",
    "wrap": "periodic: abc → bc|abc|ab (torch 'circular', Flax padding='CIRCULAR', ONNX 'wrap')",
    "symmetric": "mirror repeating the edge pixel: abc → ba|abc|cb (tf.pad 'SYMMETRIC')",
}

#: What an average pool divides a window's sum by at the border.
POOL_DIVISORS = {
    "window": "the full window size k^d, padding counted (count_include_pad=True: PyTorch's default)",
    "in_bounds": "the number of in-bounds pixels (count_include_pad=False; TF/Keras 'SAME', ONNX's default)",
    "padded_window": "the window clipped to the input plus its padding (count_include_pad=True with ceil_mode: a "
                     "last window overhanging the padding divides by less than k^d; PyTorch)",
}
