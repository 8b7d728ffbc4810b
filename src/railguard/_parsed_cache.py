"""A per-user disk cache of parsed data files (policy packs, the shell catalogue, the injection
model), so a fresh process such as `railguard check` or the hook skips re-parsing text it parsed
before.

An entry is keyed by a digest of the text it was parsed from, the kind of data, and the size and
modification time of the source files of the code that parses it: editing a pack, the parser, or
upgrading Railguard changes the key, so a stale entry is never read. Entries are `marshal` data
written by this user into a directory only this user can write (0700); any failure to read or write
the cache (read-only home, a full disk, a truncated entry) falls back to parsing, never to an error.

`RAILGUARD_CACHE_DIR` moves the cache; setting it to an empty string turns it off.
"""

from __future__ import annotations

import marshal
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from railguard._digest import blake2b

T = TypeVar("T")

FORMAT = 1  # bump when the layout of entries changes
_ENV = "RAILGUARD_CACHE_DIR"


def cache_dir() -> Path | None:
    """Where entries live, or None when the cache is turned off."""
    configured = os.environ.get(_ENV)
    if configured is not None:
        return Path(configured) / "parsed" if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "railguard" / "parsed"


def _code_stamp(code_files: Iterable[str]) -> bytes:
    parts = []
    for name in code_files:
        try:
            st = os.stat(name)
        except OSError:
            parts.append(f"{name}:missing")
            continue
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return "\0".join(parts).encode()


def entry_path(kind: str, text: bytes, code_files: Iterable[str]) -> Path | None:
    directory = cache_dir()
    if directory is None:
        return None
    digest = blake2b(digest_size=20)
    for part in (f"{FORMAT}:{kind}:{sys.version_info[:2]}".encode(), _code_stamp(code_files), text):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return directory / f"{kind}-{digest.hexdigest()}.marshal"


def cached(
    kind: str,
    text: bytes,
    code_files: Iterable[str],
    parse: Callable[[], T],
    encode: Callable[[T], Any] = lambda value: value,
    decode: Callable[[Any], T] = lambda value: value,
) -> T:
    """`parse()`, or what it returned for the same `text` before (stored as `encode(value)`, read back
    with `decode`). A parse that raises is never cached; a value marshal cannot store is not cached."""
    path = entry_path(kind, text, code_files)
    if path is not None:
        try:
            return decode(marshal.loads(path.read_bytes()))
        except FileNotFoundError:
            pass
        except Exception:  # a damaged entry: parse again and overwrite it
            pass
    value = parse()
    if path is not None:
        _store(path, value, encode)
    return value


def package_yaml(package: str, name: str, kind: str) -> Any:
    """A YAML data file shipped in `package`, parsed (libyaml when present) once per user."""
    from railguard._package_data import read_bytes

    raw = read_bytes(package, name)

    def parse() -> Any:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(raw.decode("utf-8"), Loader=loader)

    return cached(kind, raw, (), parse)


def _store(path: Path, value: Any, encode: Callable[[Any], Any]) -> None:
    try:
        data = marshal.dumps(encode(value))
    except (ValueError, TypeError, RecursionError):
        return  # holds a type marshal cannot store (a YAML timestamp): parse every time
    write_entry(path, data)


def write_entry(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole (a reader sees the old entry or the new one, never a part)."""
    import tempfile

    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # no cache today (read-only or full): the caller goes on without it


__all__ = ["cache_dir", "cached", "entry_path", "write_entry"]
