"""Where pgc writes: user-given names as safe file names, final paths kept inside their
folder, and targets that are never silently overwritten (issue 16, class 2).

A graph (node ids), a federation description (member ids, hence job ids) and the values
they compute are user input. None of them may choose where pgc writes:

- :func:`path_component` turns a user-given string into ONE file-name component: ASCII
  letters, digits, ``_``, ``-`` and ``.``, no separator, never ``.`` or ``..``, no leading
  dot or dash, at most :data:`MAX_COMPONENT` characters. A name that is already such a
  component (lower case, not a name Windows reserves) is kept as it is; any other name
  becomes a slug of it plus ``--`` and a hash of the original, so two different names never
  share a component, also on a case-insensitive file system (a kept name never ends like a
  hashed one: such names are hashed too).
- :func:`inside` checks a final path, symlinks resolved, against the folder it must be in.
- :func:`check_target` / :func:`fresh_target`: a target that exists (a file, a symlink, a
  folder that is not empty) is refused unless the caller says ``overwrite``; even then pgc
  replaces only a file (or a symlink: the link, never what it points to) or a folder that is
  exactly a Zarr store, the one kind of folder pgc's writers make. pgc never deletes a
  folder holding anything else.

>>> path_component("mean"), path_component("a-0")
('mean', 'a-0')
>>> path_component("../../x")
'x--9cdf6a50100a862e'
>>> path_component("..") != path_component(".") != path_component("")
True
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import unicodedata
from pathlib import Path

MAX_COMPONENT = 80
_HASH = 16  # hex digits of sha256: 64 bits
_KEPT = re.compile(r"[a-z0-9_][a-z0-9_.-]*")
_HASHED = re.compile(rf".*--[0-9a-f]{{{_HASH}}}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# names Windows gives to devices, whatever the extension
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(10)}


class UnsafeOutput(ValueError):
    """A write pgc refuses: outside its folder, or over something that exists."""


class OutsideFolder(UnsafeOutput):
    """A path that resolves outside the folder it must be in."""


class TargetExists(UnsafeOutput):
    """A target that exists and may not (or cannot) be replaced."""


def path_component(name: str) -> str:
    """``name`` (a node, member or job id) as one safe file-name component; deterministic,
    and different names give different components."""
    if not isinstance(name, str):
        raise TypeError(f"a name must be a string, not {type(name).__name__}")
    if (
        len(name) <= MAX_COMPONENT
        and _KEPT.fullmatch(name)
        and not name.endswith(".")
        and name.split(".", 1)[0] not in _RESERVED
        and not _HASHED.fullmatch(name)
    ):
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH]
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _UNSAFE.sub("_", ascii_text).lstrip("._-")
    slug = slug[: MAX_COMPONENT - _HASH - 2].rstrip(".") or "id"
    return f"{slug}--{digest}"


def inside(folder: str | Path, path: str | Path) -> Path:
    """``path`` resolved (symlinks followed), when it lies strictly inside ``folder``
    (resolved too); :class:`OutsideFolder` otherwise. Messages name no resolved paths."""
    root = Path(folder).resolve()
    resolved = Path(path).resolve()
    if resolved == root or not resolved.is_relative_to(root):
        raise OutsideFolder(f"{Path(path).name or path} would be outside {folder}")
    return resolved


def check_target(path: str | Path, overwrite: bool = False) -> str:
    """What is at ``path``: ``"new"`` (nothing, or an empty folder), ``"file"`` (a file or a
    symlink, replaced only with ``overwrite``) or ``"store"`` (a Zarr store, replaced only
    with ``overwrite``); :class:`TargetExists` when it may not be written."""
    path = Path(path)
    try:
        info = path.lstat()
    except FileNotFoundError:
        return "new"
    except OSError as exc:
        raise TargetExists(f"{path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        try:
            empty = not any(os.scandir(path))
        except OSError as exc:
            raise TargetExists(f"{path}: {exc.strerror or exc}") from None
        if empty:
            return "new"
        if not overwrite:
            raise TargetExists(f"{path} exists and is not empty: pass --overwrite to replace it")
        if not is_zarr_store(path):
            raise TargetExists(
                f"{path} is a folder pgc did not write (not a Zarr store): pgc does not "
                "replace it, even with --overwrite"
            )
        return "store"
    if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
        if not overwrite:
            raise TargetExists(f"{path} exists: pass --overwrite to replace it")
        return "file"
    raise TargetExists(f"{path} exists and is not a file or a folder: pgc does not replace it")


def fresh_target(path: str | Path, overwrite: bool = False) -> Path:
    """Make ``path`` ready to be written (see :func:`check_target`): with ``overwrite``, a
    file or symlink there is removed (a symlink's target stays), a Zarr store is deleted."""
    path = Path(path)
    kind = check_target(path, overwrite)
    if kind == "file":
        path.unlink()
    elif kind == "store":
        shutil.rmtree(path)
    return path


_ZARR_META = {"zarr.json", ".zgroup", ".zattrs", ".zarray", ".zmetadata"}
_CHUNK_FILE = re.compile(r"\d+([./]\d+)*")
_CHUNK_DIR = re.compile(r"c|\d+")
_NODE_META = {"zarr.json", ".zgroup", ".zarray"}  # what makes a folder a group or array


def is_zarr_store(folder: str | Path) -> bool:
    """Whether ``folder`` is a Zarr store and nothing else: a group (``zarr.json`` or
    ``.zgroup``) whose entries are Zarr metadata and arrays or groups holding only metadata
    and chunks (v2 ``0.0.0`` files, v3 ``c/0/0/0`` folders); no symlinks, nothing else."""
    return _zarr_node(Path(folder), depth=0)


def _entries(folder: Path, depth: int) -> list[os.DirEntry] | None:
    """The entries of a folder of a store, None when it cannot be read or nests too deep."""
    if depth > 64:
        return None
    try:
        return list(os.scandir(folder))
    except OSError:
        return None


def _zarr_node(folder: Path, depth: int) -> bool:
    """A Zarr group or array folder holding only what Zarr writes (depth 0: the store,
    which is a group)."""
    entries = _entries(folder, depth)
    if entries is None:
        return False
    names = {e.name for e in entries}
    if not names & ({"zarr.json", ".zgroup"} if depth == 0 else _NODE_META):
        return False
    is_array = ".zarray" in names or (depth > 0 and _is_v3_array(folder / "zarr.json"))
    for entry in entries:
        if entry.is_symlink():
            return False
        if entry.is_file(follow_symlinks=False):
            if entry.name in _ZARR_META or (is_array and _CHUNK_FILE.fullmatch(entry.name)):
                continue
            return False
        if not entry.is_dir(follow_symlinks=False):
            return False
        chunks = is_array and _CHUNK_DIR.fullmatch(entry.name)
        inner = _chunks_only if chunks else _zarr_node
        if not inner(Path(entry.path), depth + 1):
            return False
    return True


def _is_v3_array(meta: Path) -> bool:
    import json

    try:
        with meta.open(encoding="utf-8") as handle:
            text = handle.read(1 << 20)
        return json.loads(text).get("node_type") == "array"
    except (OSError, ValueError, AttributeError):
        return False


def _chunks_only(folder: Path, depth: int) -> bool:
    """A folder of chunks: folders and files named by chunk indices, nothing else."""
    entries = _entries(folder, depth)
    if entries is None:
        return False
    for entry in entries:
        if entry.is_symlink():
            return False
        if entry.is_file(follow_symlinks=False) and _CHUNK_FILE.fullmatch(entry.name):
            continue
        chunk_folder = entry.is_dir(follow_symlinks=False) and re.fullmatch(r"\d+", entry.name)
        if chunk_folder and _chunks_only(Path(entry.path), depth + 1):
            continue
        return False
    return True
