"""Framework adapters, loaded lazily by name.

>>> FRAMEWORKS
('numpy', 'torch', 'tensorflow', 'jax', 'flax')
"""
from __future__ import annotations

import importlib

from equivcheck.backends.base import Backend, BackendUnavailable, LayerHandle, NotApplicable

#: Column order everywhere (tables, pytest ids, results). torch comes before
#: tensorflow so that, loading in this order, torch is imported first, as
#: Keras' own conftest does.
FRAMEWORKS = ("numpy", "torch", "tensorflow", "jax", "flax")

_MODULES = {
    "numpy": ("equivcheck.backends.numpy", "NumpyBackend"),
    "torch": ("equivcheck.backends.torch", "TorchBackend"),
    "tensorflow": ("equivcheck.backends.tensorflow", "TensorflowBackend"),
    "jax": ("equivcheck.backends.jax", "JaxBackend"),
    "flax": ("equivcheck.backends.flax", "FlaxBackend"),
}

#: What each adapter needs importable; the skip reason names the missing one.
REQUIREMENTS = {
    "numpy": ("numpy",),
    "torch": ("torch",),
    "tensorflow": ("tensorflow", "keras"),
    "jax": ("jax",),
    "flax": ("jax", "flax"),
}

_CACHE: dict[tuple, Backend] = {}


class UnknownFramework(ValueError):
    """A framework name that equivcheck has no adapter for."""


def check_names(names, origin: str = "--frameworks") -> tuple[str, ...]:
    """Validate framework names, raising a one-line error that names ``origin``.

    >>> check_names(["torch", "jax"])
    ('torch', 'jax')
    """
    names = tuple(n.strip() for n in names if n.strip())
    unknown = [n for n in names if n not in FRAMEWORKS]
    if unknown:
        raise UnknownFramework(f"{origin}: unknown framework {', '.join(map(repr, unknown))}; choose from {', '.join(FRAMEWORKS)}")
    return names


def import_torch_first(framework: str) -> None:
    """Import torch before TensorFlow in one process (as Keras' conftest does),
    when torch is installed; a missing torch is fine."""
    if framework in ("tensorflow", "flax", "jax"):
        try:
            importlib.import_module("torch")
        except ImportError:
            pass


def load(framework: str, dtype: str = "float32", device: str = "cpu", allow_tf32: bool = False) -> Backend:
    """The adapter for ``framework``, cached per (framework, dtype, device).

    Raises :class:`BackendUnavailable` (with the import error as the reason)
    when the framework is not installed.
    """
    check_names([framework], origin="framework")
    key = (framework, dtype, device, allow_tf32)
    if key in _CACHE:
        return _CACHE[key]
    for requirement in REQUIREMENTS[framework]:
        if framework == "tensorflow" and requirement == "tensorflow":
            import_torch_first(framework)
        try:
            importlib.import_module(requirement)
        except ImportError as exc:
            raise BackendUnavailable(f"{framework}: {requirement} is not installed ({exc})") from None
    module_name, class_name = _MODULES[framework]
    backend_class = getattr(importlib.import_module(module_name), class_name)
    backend = backend_class(dtype=dtype, device=device, allow_tf32=allow_tf32)
    _CACHE[key] = backend
    return backend


def availability(framework: str, import_it: bool = True) -> str | None:
    """None when ``framework`` can be loaded, else the reason it cannot.

    With ``import_it=False`` only checks that its packages are installed (cheap:
    no framework import), for a parent process whose workers do the importing.
    """
    if not import_it:
        import importlib.util

        for requirement in REQUIREMENTS[check_names([framework], "framework")[0]]:
            if importlib.util.find_spec(requirement) is None:
                return f"{framework}: {requirement} is not installed"
        return None
    try:
        load(framework)
    except BackendUnavailable as exc:
        return str(exc)
    return None


def installed_versions(framework: str) -> dict[str, str]:
    """The installed distributions behind ``framework`` and their versions, read from package
    metadata without importing anything (``{"tensorflow-cpu": "2.21.0", "keras": "3.15.1"}``)."""
    from importlib import metadata

    modules = REQUIREMENTS[check_names([framework], "framework")[0]] + (("jaxlib",) if "jax" in
                                                                        REQUIREMENTS[framework] else ())
    owners = metadata.packages_distributions()
    versions = {}
    for module in modules:
        for distribution in owners.get(module, ()):
            try:
                versions[distribution] = metadata.version(distribution)
            except metadata.PackageNotFoundError:
                continue
    return versions


__all__ = ["Backend", "BackendUnavailable", "LayerHandle", "NotApplicable", "FRAMEWORKS",
           "UnknownFramework", "check_names", "load", "availability", "installed_versions"]
