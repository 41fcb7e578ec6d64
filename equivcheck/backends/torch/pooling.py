"""PyTorch pooling and patch extraction (``F.max_pool*d``, ``F.max_unpool*d``, ``F.avg_pool*d``,
``F.unfold``).

A mixin of :class:`equivcheck.backends.torch.adapter.TorchBackend`: it uses the adapter's ``F`` module
(looked up at call time, so the fault meta-tests' monkeypatches are seen), its layout conversions
(``to_native`` / ``from_native``, ``_form``) and its rank dispatch (``_fn``).
"""
from __future__ import annotations

from equivcheck.backends.base import NotApplicable, is_int, spatial_ints
from equivcheck.backends.torch.padding import native_padding, pad_spec


class PoolingOps:
    """Max/average pooling, unpooling and patch extraction on (N, C, *spatial) or (C, *spatial) tensors."""

    # ---- pooling --------------------------------------------------------
    @staticmethod
    def _pool_rank(x, kernel):
        return x.ndim - 2 if is_int(kernel) else len(tuple(kernel))

    def _pool_padding(self, x, padding, rank, value, op, *, with_indices=False, ceil_mode=False,
                      count_include_pad=True):
        """torch pools pad symmetrically; asymmetric pairs are padded explicitly with ``value`` (a torch
        user's F.pad), where that is the same pool: not with returned indices, ceil_mode (the last
        window's rule reads the pool's own padding) or count_include_pad=False (F.pad's zeros count)."""
        if isinstance(padding, str) and padding.lower() == "same":
            raise NotApplicable(f"torch {op} has no 'same' padding; it takes symmetric padding ints (at most "
                                "half the kernel), or F.pad before the pool")
        torch_padding, explicit = native_padding(padding, rank, strings=False)
        if explicit is None:
            return x, torch_padding
        blocked = ("the returned indices would address the padded input" if with_indices else
                   "ceil_mode's last-window rule would count F.pad's values as input" if ceil_mode else
                   "F.pad's zeros would count in the divisor" if not count_include_pad else None)
        if blocked:
            raise NotApplicable(f"torch {op} pads symmetrically only; with asymmetric padding done by F.pad "
                                f"{blocked}")
        return self.F.pad(x, pad_spec(explicit), value=value), 0

    def max_pool(self, x, kernel, stride=None, padding=0, return_indices=False, *, ceil_mode=False, dilation=1):
        rank = self._pool_rank(x, kernel)
        form = self._form(x, rank)
        x, padding = self._pool_padding(x, padding, rank, float("-inf"), "max_pool", with_indices=return_indices,
                                        ceil_mode=ceil_mode)
        out = self._fn("max_pool", rank, "max pooling")(self.to_native(x, form), kernel, stride, padding,
                                                          dilation=dilation, ceil_mode=ceil_mode,
                                                          return_indices=return_indices)
        if not return_indices:
            return self.from_native(out, form)
        # indices: per (n, c), the row-major flat index into the unpadded input plane
        values, indices = out
        return self.from_native(values, form), self.from_native(indices, form)

    def max_unpool(self, y, indices, kernel, stride=None, output_size=None):
        rank = self._pool_rank(y, kernel)
        form = self._form(y, rank)
        if indices.is_floating_point():  # indices that crossed the border through asarray
            indices = indices.round().long()
        out = self._fn("max_unpool", rank, "max unpooling")(
            self.to_native(y, form), self.to_native(indices, form), kernel, stride,
            output_size=None if output_size is None else tuple(output_size))
        return self.from_native(out, form)

    def avg_pool(self, x, kernel, stride=None, padding=0, *, count_include_pad=True, ceil_mode=False, dilation=1):
        rank = self._pool_rank(x, kernel)
        if any(d != 1 for d in spatial_ints(dilation, rank)):
            raise NotApplicable(f"torch avg_pool has no dilation (F.avg_pool{rank}d takes kernel_size, stride, "
                                "padding, ceil_mode, count_include_pad, divisor_override); a dilated average "
                                "is a depthwise conv with a dilated constant kernel")
        form = self._form(x, rank)
        x, padding = self._pool_padding(x, padding, rank, 0.0, "avg_pool", ceil_mode=ceil_mode,
                                        count_include_pad=count_include_pad)
        out = self._fn("avg_pool", rank, "average pooling")(self.to_native(x, form), kernel, stride, padding,
                                                              ceil_mode=ceil_mode, count_include_pad=count_include_pad)
        return self.from_native(out, form)

    # ---- patches ---------------------------------------------------------------
    def extract_patches(self, x, kernel, stride=1, padding=0, dilation=1):
        rank = self._pool_rank(x, kernel)
        if rank != 2:
            raise NotApplicable("torch.nn.functional.unfold extracts 2-D patches only (input (N, C, H, W) "
                                f"or (C, H, W)); there is no {rank}-D unfold")
        form = self._form(x, rank)
        torch_padding, explicit = native_padding(padding, rank, strings=False)
        if explicit is not None:
            x = self.F.pad(x, pad_spec(explicit))  # unfold pads symmetrically only
        # result is (N, C*prod(k), L) in both layouts: no conversion back
        return self.F.unfold(self.to_native(x, form), kernel, dilation=dilation,
                             padding=torch_padding, stride=stride)
