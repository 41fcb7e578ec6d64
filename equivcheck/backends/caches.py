"""Where equivcheck's persistent caches go, read from their environment variables
(``EQUIVCHECK_JAX_CACHE`` for JAX's compilation cache, ``EQUIVCHECK_ONNX_EXPORT_CACHE`` for the ONNX
exports): one rule for every such variable, so each reads the same way."""
from __future__ import annotations

import os

OFF = ("0", "off", "no", "false")
ON = ("", "1", "on", "yes", "true")


def cache_directory(setting: str | None, name: str) -> str | None:
    """The directory a cache variable's value says, None for off.

    Unset, empty, ``1``/``on``/``yes``/``true``: on, in ``$XDG_CACHE_HOME/equivcheck/<name>``
    (default ``~/.cache/equivcheck/<name>``).  ``0``/``off``/``no``/``false``: off.  Anything else is
    the directory itself (``~`` expanded, made absolute).

    >>> cache_directory("off", "jax") is None, cache_directory(" /tmp/c ", "jax")
    (True, '/tmp/c')
    """
    value = (setting or "").strip()
    if value.lower() in OFF:
        return None
    if value.lower() in ON:
        root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(root, "equivcheck", name)
    return os.path.abspath(os.path.expanduser(value))
