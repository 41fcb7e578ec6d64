"""How JAX programs are compiled and guarded: the persistent compilation cache, and the known-abort check.

Design rules
- Nothing here imports JAX: the adapter passes its ``jax`` module in.
- The persistent cache changes only how soon a program runs, never what runs (JAX keys each entry by
  the program, the compile options and the jax/jaxlib versions).
- A program that may trip a known XLA abort is traced once per new input signature and shown to
  :mod:`equivcheck.known_issues` before XLA compiles it.
"""
from __future__ import annotations

import os

from equivcheck import known_issues
from equivcheck.backends.caches import cache_directory


def compilation_cache_dir(setting: str | None) -> str | None:
    """Where JAX's persistent compilation cache goes, from ``EQUIVCHECK_JAX_CACHE``; None is off.

    Read as :func:`equivcheck.backends.caches.cache_directory` reads every cache variable: on by
    default, in ``$XDG_CACHE_HOME/equivcheck/jax`` (``~/.cache/equivcheck/jax``).  JAX keys each
    entry by the program, the compile options and the jax/jaxlib versions, so a warm cache never
    changes what runs, only how soon: a second run skips the XLA compiles (about 3× faster for the
    jax and flax claims, see benchmarks/), and within one run the same program built twice compiles
    once.

    >>> compilation_cache_dir("off") is None, compilation_cache_dir("/tmp/jc")
    (True, '/tmp/jc')
    """
    return cache_directory(setting, "jax")


def use_compilation_cache(jax) -> None:
    """Point JAX's persistent cache where ``EQUIVCHECK_JAX_CACHE`` says (default: on).

    The suite's programs compile in ~0.1 s, under JAX's default 1 s threshold for
    writing an entry, so the threshold is lowered to 0 for them to be kept.  A cache
    the user configured through JAX itself (``JAX_COMPILATION_CACHE_DIR``) is left alone.
    """
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    directory = compilation_cache_dir(os.environ.get("EQUIVCHECK_JAX_CACHE"))
    if directory is not None and jax.config.jax_compilation_cache_dir != directory:
        jax.config.update("jax_compilation_cache_dir", directory)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


class Guarded:
    """A jitted callable whose every new input signature is checked for a known XLA abort first."""

    def __init__(self, fn, backend):
        self.fn, self.jax, self.checked = fn, backend.jax, set()
        self.jaxlib_version = backend.versions()["jaxlib"]

    def __call__(self, *args):
        signature = tuple(None if a is None else (tuple(a.shape), str(a.dtype))
                          for a in self.jax.tree_util.tree_leaves(args, is_leaf=lambda a: a is None))
        if signature not in self.checked:
            known_issues.check_program(self.jax.make_jaxpr(self.fn)(*args).jaxpr, self.jaxlib_version)
            self.checked.add(signature)
        return self.fn(*args)
