"""Finding and loading librillflow.so.1, and checking that it is a version this package can use.

The library is looked for, in order:
  1. the file named by the RILLFLOW_LIBRARY environment variable;
  2. a copy bundled inside the installed package (rillflow/librillflow.so.1);
  3. the build tree of the source checkout this package sits in (build/librillflow.so.1);
  4. the system's library path (ctypes.util.find_library("rillflow")).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

#: The C API version this package is written against: major must match, minor at least this.
REQUIRED_MAJOR = 1
REQUIRED_MINOR = 4  # rf_history_info.last_error is 1.4 (rf_run_emit_batch 1.3, the durable history 1.2)

_SONAME = "librillflow.so.1"


def candidates() -> list[tuple[str, str]]:
    """Where the library may be, in the order tried, each with a word on where it came from."""
    found: list[tuple[str, str]] = []
    explicit = os.environ.get("RILLFLOW_LIBRARY")
    if explicit:
        found.append((explicit, "RILLFLOW_LIBRARY"))
        return found  # an explicit choice is never silently replaced by another library
    here = Path(__file__).resolve().parent
    found.append((str(here / _SONAME), "bundled"))
    for parent in here.parents:
        tree = parent / "build" / _SONAME
        if (parent / "Include" / "rillflow.h").exists():
            found.append((str(tree), "build tree"))
            break
    system = ctypes.util.find_library("rillflow")
    if system:
        found.append((system, "system"))
    return found


def load_library() -> ctypes.CDLL:
    """Loads the first library found and checks its version; ImportError says what to do."""
    tried = []
    for path, origin in candidates():
        if origin != "system" and not os.path.exists(path):
            tried.append(f"{path} ({origin}: no such file)")
            continue
        try:
            library = ctypes.CDLL(path)
        except OSError as error:
            tried.append(f"{path} ({origin}: {error})")
            continue
        check_version(library, path)
        return library
    raise ImportError(
        "rillflow: librillflow.so.1 was not found. Build it from the source checkout with "
        "`scripts/demo` or `cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build`, "
        "install it (`cmake --install build`), or set RILLFLOW_LIBRARY to its path. Tried: "
        + ("; ".join(tried) if tried else "nothing (no candidate)")
    )


def check_version(library: ctypes.CDLL, path: str) -> None:
    library.rf_version.restype = ctypes.c_uint32
    library.rf_version.argtypes = []
    version = library.rf_version()
    major, minor = version // 10000, version // 100 % 100
    if major != REQUIRED_MAJOR or minor < REQUIRED_MINOR:
        raise ImportError(
            f"rillflow: {path} is version {major}.{minor}.{version % 100}; this package needs "
            f"{REQUIRED_MAJOR}.{REQUIRED_MINOR} or a later {REQUIRED_MAJOR}.x"
        )
