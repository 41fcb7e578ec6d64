"""TensorFlow's FFT (``tf.signal.fft``/``fft2d``/``fft3d`` and their inverses) over any axes.

A mixin of :class:`equivcheck.backends.tensorflow.adapter.TensorflowBackend`.  tf.signal transforms
only the innermost 1, 2 or 3 axes, so the asked axes are moved innermost (in the order given), the
native transform runs, and the axes go back: what a TF user writes for ``np.fft.fftn(x, axes=...)``.
A real input is cast to the complex dtype of the run's precision (complex64 for float32, complex128
for float64) first, as tf.signal takes complex tensors only.
"""
from __future__ import annotations

from equivcheck.backends.base import NotApplicable

#: tf.signal's transform of the innermost n axes, per n: (forward, inverse) names.
_TRANSFORMS = {1: ("fft", "ifft"), 2: ("fft2d", "ifft2d"), 3: ("fft3d", "ifft3d")}


class FftOps:
    """fftn / ifftn / conj / real on native TF tensors (complex tensors stay complex)."""

    def _complex(self, x):
        tf = self.tf
        dtype = tf.complex64 if self.dtype == "float32" else tf.complex128
        return x if x.dtype == dtype else tf.cast(x, dtype)

    def _transform(self, x, axes, inverse: bool):
        tf, ndim = self.tf, len(x.shape)
        axes = [a % ndim if -ndim <= a < ndim else a for a in axes]
        if len(axes) not in _TRANSFORMS:
            raise NotApplicable(f"tensorflow: tf.signal transforms the innermost 1, 2 or 3 axes only "
                                f"(fft, fft2d, fft3d); {len(axes)} axes were asked")
        if len(set(axes)) != len(axes) or not all(0 <= a < ndim for a in axes):
            raise ValueError(f"fft axes must be distinct axes of the {ndim}-d input, got {tuple(axes)}")
        order = [a for a in range(ndim) if a not in axes] + list(axes)
        back = [order.index(a) for a in range(ndim)]
        fn = getattr(tf.signal, _TRANSFORMS[len(axes)][int(inverse)])
        return tf.transpose(fn(tf.transpose(self._complex(x), order)), back)

    def fftn(self, x, axes):
        return self._transform(x, axes, inverse=False)

    def ifftn(self, x, axes):
        return self._transform(x, axes, inverse=True)

    def conj(self, x):
        return self.tf.math.conj(x)

    def real(self, x):
        return self.tf.math.real(x)
