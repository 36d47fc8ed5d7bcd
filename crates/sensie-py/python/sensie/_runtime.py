"""Finds the ONNX Runtime library inside the installed ``onnxruntime`` wheel.

sensie's Rust core loads ``libonnxruntime.so`` at run time; the Python
package uses the copy that ships with the ``onnxruntime`` package (found from
the package's location, without importing it), so one ONNX Runtime serves
both and nothing needs an environment variable.
"""

import importlib.metadata
import importlib.util
import pathlib

# ONNX Runtime's C API 24 (onnxruntime 1.24) is the oldest sensie's Rust
# bindings speak; its C API is kept stable until a major version.
SUPPORTED = ((1, 24), (2, 0))


def _version_tuple(text):
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def library_path():
    """The absolute path of the onnxruntime wheel's libonnxruntime.so, after
    checking the installed onnxruntime's version."""
    try:
        version = importlib.metadata.version("onnxruntime")
    except importlib.metadata.PackageNotFoundError:
        raise ImportError(
            "sensie needs the onnxruntime package (1.24 <= version < 2): pip install 'onnxruntime>=1.24,<2'"
        ) from None
    low, high = SUPPORTED
    if not (low <= _version_tuple(version) < high):
        raise ImportError(
            f"onnxruntime {version} is installed but sensie supports 1.24 <= version < 2: "
            "pip install 'onnxruntime>=1.24,<2'"
        )
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the onnxruntime package is installed but cannot be located; reinstall it")
    capi = pathlib.Path(next(iter(spec.submodule_search_locations))) / "capi"
    found = sorted(capi.glob("libonnxruntime.so*")) + sorted(capi.glob("onnxruntime.dll")) + sorted(capi.glob("libonnxruntime*.dylib"))
    if not found:
        raise ImportError(f"no ONNX Runtime library in {capi}; reinstall onnxruntime")
    return str(found[0].resolve())
