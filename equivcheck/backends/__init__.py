"""Framework adapters, loaded lazily by name.

>>> FRAMEWORKS
('numpy', 'torch', 'tensorflow', 'jax', 'flax', 'onnxruntime', 'onnx', 'openvino', 'litert')
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from equivcheck.backends.base import Backend, BackendUnavailable, LayerHandle, NotApplicable


@dataclass(frozen=True)
class Engine:
    """One framework equivcheck runs claims on and probes conventions of: its registry line.

    ``name`` is the column name, the folder ``equivcheck/backends/<name>/`` (whose ``__init__``
    exports its adapter class as ``Backend`` and whose ``probes`` module registers its probes), and
    the pytest id.  ``requires`` are the modules it needs importable (the skip reason names the first
    missing one); ``distributions`` any further modules whose distributions' versions it reports;
    ``import_first`` modules imported before ``requires`` when installed (torch before TensorFlow
    in one process, as Keras' own conftest does); ``identity`` the distributions whose versions name
    the framework's column in the conventions report (a tuple inside means "whichever is installed").

    >>> ENGINES["flax"].package, ENGINES["flax"].probes
    ('equivcheck.backends.flax', 'equivcheck.backends.flax.probes')
    """

    name: str
    requires: tuple[str, ...]
    distributions: tuple[str, ...] = ()
    import_first: tuple[str, ...] = ()
    identity: tuple = ()
    #: Why the engine has no float64 column (it has no double kernels), or None: runs and pytest skip its
    #: float64 cells with this sentence instead of running claims that could only end n/a.
    no_float64: str | None = None

    @property
    def package(self) -> str:
        return f"{__name__}.{self.name}"

    @property
    def probes(self) -> str:
        return f"{self.package}.probes"


#: THE framework registry: runs, probes, the pytest plugin and the CLI all read it.  The order is the
#: column order everywhere (tables, pytest ids, results); torch comes before tensorflow so that,
#: loading in this order, torch is imported first.
ENGINES: dict[str, Engine] = {engine.name: engine for engine in (
    Engine("numpy", ("numpy",), identity=("numpy",)),
    Engine("torch", ("torch",), identity=("torch",)),
    Engine("tensorflow", ("tensorflow", "keras"), import_first=("torch",),
           identity=(("tensorflow", "tensorflow-cpu"), "keras")),
    Engine("jax", ("jax",), distributions=("jaxlib",), identity=("jax", "jaxlib")),
    Engine("flax", ("jax", "flax"), distributions=("jaxlib",), identity=("flax", "jax")),
    # layers are torch.nn layers through torch.onnx.export: torch (when installed) goes first
    Engine("onnxruntime", ("onnxruntime", "onnx"), import_first=("torch",), identity=("onnxruntime", "onnx")),
    Engine("onnx", ("onnx",), distributions=("numpy",), import_first=("torch",), identity=("onnx", "numpy")),
    # the deployment runtimes: OpenVINO on the ONNX columns' graphs (layers through torch.onnx.export),
    # LiteRT on TensorFlow programs converted with the TFLite converter
    Engine("openvino", ("openvino", "onnx"), import_first=("torch",), identity=("openvino",),
           no_float64="OpenVINO's CPU plugin has no float64 kernels: it runs an f64 model in f32 and returns f64 arrays "
                      "of f32 results, so a float64 run cannot be judged"),
    Engine("litert", ("ai_edge_litert", "tensorflow"), distributions=("tensorflow", "keras"), import_first=("torch",),
           identity=("ai-edge-litert", ("tensorflow", "tensorflow-cpu")),
           no_float64="LiteRT's builtin kernels have no float64 convolution, transpose or pooling (the TFLite converter "
                      "asks for TF Select ops for every float64 program equivcheck writes)"),
)}

#: The names, in column order (``FRAMEWORKS``), and what each needs importable (``REQUIREMENTS``).
FRAMEWORKS = tuple(ENGINES)
REQUIREMENTS = {name: engine.requires for name, engine in ENGINES.items()}

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
    """Import what ``framework``'s registry line says goes first (torch before TensorFlow in one
    process, as Keras' conftest does), when installed; a missing one is fine."""
    for module in ENGINES[framework].import_first:
        try:
            importlib.import_module(module)
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
    import_torch_first(framework)
    for requirement in REQUIREMENTS[framework]:
        try:
            importlib.import_module(requirement)
        except ImportError as exc:
            raise BackendUnavailable(f"{framework}: {requirement} is not installed ({exc})") from None
    backend_class = importlib.import_module(ENGINES[framework].package).Backend
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


def dtype_unavailable(framework: str, dtype: str) -> str | None:
    """Why ``framework`` has no ``dtype`` column (from its registry line, no import), or None.

    >>> dtype_unavailable("openvino", "float64").startswith("openvino float64: ")
    True
    >>> dtype_unavailable("openvino", "float32") is None
    True
    """
    reason = ENGINES[check_names([framework], "framework")[0]].no_float64
    return f"{framework} float64: {reason}" if dtype == "float64" and reason else None


def installed(framework: str) -> bool:
    """Whether every module ``framework`` requires is installed (no import: a ``find_spec`` check)."""
    return availability(framework, import_it=False) is None


def installed_versions(framework: str) -> dict[str, str]:
    """The installed distributions behind ``framework`` and their versions, read from package
    metadata without importing anything (``{"tensorflow-cpu": "2.21.0", "keras": "3.15.1"}``)."""
    from importlib import metadata

    engine = ENGINES[check_names([framework], "framework")[0]]
    modules = engine.requires + engine.distributions
    owners = metadata.packages_distributions()
    versions = {}
    for module in modules:
        # Python 3.10's packages_distributions reads only top_level.txt, which wheels built without
        # setuptools (numpy's, jax's) lack: then the distribution named like the module is the owner
        for distribution in owners.get(module) or (module,):
            try:
                versions[distribution] = metadata.version(distribution)
            except metadata.PackageNotFoundError:
                continue
    return versions


__all__ = ["Backend", "BackendUnavailable", "LayerHandle", "NotApplicable", "Engine", "ENGINES", "FRAMEWORKS",
           "REQUIREMENTS", "installed",
           "UnknownFramework", "check_names", "load", "availability", "installed_versions"]
