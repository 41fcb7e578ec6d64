"""What JAX has no op for, composed as a JAX user writes it: the pixel shuffles (reshape + transpose on
the canonical ``(N, C, *sp)`` array) and the row-major flatten.

A mixin of :class:`equivcheck.backends.jax.adapter.JaxBackend` (it uses the adapter's ``jnp``, jit
cache and session check); Flax inherits it, as a Flax user reaches for ``jax.numpy`` for these too.
"""
from __future__ import annotations

import math

from equivcheck import layouts
from equivcheck.backends.base import LayerHandle, spatial_ints


class ComposedOps:
    """Pixel shuffles and the reshape-flatten, by ``jax.numpy``."""

    def pixel_shuffle(self, x, r):
        return self._shuffle("pixel_shuffle", x, r)

    def pixel_unshuffle(self, x, r):
        return self._shuffle("pixel_unshuffle", x, r)

    def depth_to_space(self, x, r):
        return self._shuffle("depth_to_space", x, r)

    def space_to_depth(self, x, r):
        return self._shuffle("space_to_depth", x, r)

    def _shuffle(self, kind: str, x, r):
        rank = x.ndim - 2
        factors = spatial_ints(r, rank)

        def build():
            jnp = self.jnp
            interleaved = tuple(a for i in range(rank) for a in (2 + rank + i, 2 + i))  # (sp0, r0, sp1, r1, …)

            def run(x):
                n, c, *sp = x.shape
                block = math.prod(factors)
                if kind in ("pixel_shuffle", "depth_to_space"):
                    # CRD: channel = c*r² + offset; DCR: channel = offset*C + c
                    head = (n, c // block) + factors if kind == "pixel_shuffle" else (n,) + factors + (c // block,)
                    y = jnp.reshape(x, head + tuple(sp))
                    if kind == "depth_to_space":
                        y = jnp.moveaxis(y, 1 + rank, 1)
                    y = jnp.transpose(y, (0, 1) + interleaved)
                    return jnp.reshape(y, (n, c // block) + tuple(s * f for s, f in zip(sp, factors)))
                # the inverses: (N, C, sp0, r0, …) → (N, C, *r, *sp), space_to_depth then (N, *r, C, *sp)
                small = tuple(s // f for s, f in zip(sp, factors))
                y = jnp.reshape(x, (n, c) + tuple(v for pair in zip(small, factors) for v in pair))
                y = jnp.transpose(y, (0, 1) + tuple(3 + 2 * i for i in range(rank)) + tuple(2 + 2 * i for i in range(rank)))
                if kind == "space_to_depth":
                    y = jnp.moveaxis(y, 1, 1 + rank)
                return jnp.reshape(y, (n, c * block) + small)
            return run

        return self._jit((kind, factors), build)(x)

    def _reshape_flatten(self, rank, api, note):
        """A flatten handle that is a row-major reshape ``(N, *rest)`` → ``(N, prod(rest))``, for
        frameworks without a Flatten layer (JAX; Flax, whose docs flatten with ``x.reshape``).

        Unlike the conv/dense handles its input is *not* converted from the canonical layout: ``x``
        is reshaped exactly as given.  ``extra["input_layout"]`` is this adapter's native data layout
        (``handle(bk.to_native(x))`` flattens a canonical map as a model in this framework does);
        ``extra["note"]`` says that no layer exists and what runs instead."""
        self._require_session()

        def build():
            if api == "jax.Array.reshape":  # the method, as Flax's examples write it
                return lambda x: x.reshape((x.shape[0], -1))
            return lambda x: self.jnp.reshape(x, (x.shape[0], -1))

        def set_weights(kernel=None, bias=None):
            raise ValueError(f"{api} has no weights")

        return LayerHandle(api=api, kernel_shape=(), kernel_layout="", param_count=0, set_weights=set_weights,
                           call=lambda x: self._jit(("flatten", api), build)(x),
                           extra={"input_layout": layouts.data_layout(self.framework_name, rank), "note": note})
