"""Data files shipped inside Railguard's packages (policy packs, the shell catalogue, models).

Read from the package's own directory: every way Railguard installs (a wheel, an editable checkout)
puts them on disk beside the modules, and `importlib.resources` costs a fresh process about as much
CPU as parsing a pack (it imports zipfile, tempfile and friends). A package without a directory on
disk (a zip import) falls back to `importlib.resources`.
"""

from __future__ import annotations

import importlib
import os


def _directory(package: str) -> str | None:
    module = importlib.import_module(package)
    file = getattr(module, "__file__", None)
    if not file:
        return None
    directory = os.path.dirname(file)
    return directory if os.path.isdir(directory) else None


def read_bytes(package: str, *parts: str) -> bytes:
    """The bytes of the file `parts` (relative to `package`'s directory)."""
    directory = _directory(package)
    if directory is None:
        from importlib import resources

        return resources.files(package).joinpath(*parts).read_bytes()
    with open(os.path.join(directory, *parts), "rb") as source:
        return source.read()


def list_names(package: str, *parts: str) -> list[str]:
    """The names of the entries of the folder `parts` of `package`."""
    directory = _directory(package)
    if directory is None:
        from importlib import resources

        return [entry.name for entry in resources.files(package).joinpath(*parts).iterdir()]
    return os.listdir(os.path.join(directory, *parts))


__all__ = ["list_names", "read_bytes"]
