"""The confinement of a run_udf process (:mod:`pgc.executors.reference.udf`): which protections
this machine offers, the command that starts the UDF process inside them, and what the UDF
process does to itself before it runs user code.

Standard library only: pgc's process imports it to build the command and to probe the
machine (running this file as a script in the confinement it would use, once per process);
the UDF process imports it through :mod:`pgc.executors.udf_worker`.

Levels, best first (:func:`plan` picks the first that works here):

``namespaces``
    ``unshare(1)`` starts the worker as PID 1 of new PID, mount, network and IPC namespaces
    (with a new user namespace as well when pgc is not root), with a fresh ``/proc``. When
    PID 1 ends, the kernel kills every process of the namespace, ``setsid`` or not. The
    worker then, still privileged inside its namespaces: makes the scratch folder a mount of
    its own, replaces ``/dev`` by a minimal one (null, zero, full, random, urandom), remounts
    every other mount read-only, ``nosuid`` and ``nodev`` (only inside its mount namespace,
    whose propagation is private), and drops its privileges: as root it becomes ``nobody``
    (folders on the way to the interpreter and to pgc that ``nobody`` may not pass are
    covered by an empty tmpfs that shows only those paths) with ``RLIMIT_NPROC`` =
    :data:`NPROC` (if that cannot work here it stays root, without capabilities); otherwise
    it drops all capabilities. ``no_new_privs`` and an empty capability bounding set keep
    setuid programs from giving any back. The probe checks each of these once.
``subreaper``
    No namespaces (``unshare`` missing or refused, or ``Options(udf_namespaces=False)``:
    ``PGC_UDF_NO_NAMESPACES=1`` for the command line): the worker forks; the parent (a
    ``PR_SET_CHILD_SUBREAPER``) adopts whatever the UDF leaves behind and kills it when the
    UDF returns or when pgc stops it (pgc kills the whole tree it finds in /proc). No
    network or file confinement; pgc marks itself not dumpable while a UDF runs so that the
    UDF cannot read its ``/proc/PID/environ`` or memory (unless the UDF runs as root).
``group``
    Not Linux: a process group, killed as a whole.

Every level sets ``RLIMIT_AS`` (the memory limit, counted beyond what the worker maps when
user code starts; enforced on Linux) and ``RLIMIT_CORE`` = 0 in the UDF process before user
code runs. A protection the chosen level promises that cannot
be set up in a run is a :class:`SandboxError`: the UDF does not run.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

LOG = logging.getLogger("pgc.udf")
NOBODY = 65534  # the uid and gid a root pgc runs UDFs as
NPROC = 512  # RLIMIT_NPROC of a UDF run as nobody: processes and threads of that uid
_NAMESPACES = ("--pid", "--fork", "--kill-child", "--mount-proc", "--mount", "--net", "--ipc")
_DEVICES = ("null", "zero", "full", "random", "urandom")
_PROBE_TIMEOUT = 20.0

# Linux constants (include/uapi/linux/{mount,prctl,capability}.h)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND = 32, 1024, 2048, 4096
MS_REC, MS_PRIVATE, MS_RELATIME, MS_STRICTATIME = 16384, 1 << 18, 1 << 21, 1 << 24
PR_SET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 3, 4
PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 24, 36, 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_OPTION_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}


class SandboxError(Exception):
    """A protection that was asked for could not be set up: the UDF must not run."""


def _libc() -> Any:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    return libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise SandboxError(f"{what}: {os.strerror(err)}")


def _prctl(libc: Any, option: int, value: int = 0) -> int:
    return libc.prctl(option, value, 0, 0, 0)


# ---------------------------------------------------------------------------------------
# pgc's side: what this machine offers


_PLANS: dict[bool, dict] = {}  # by whether namespaces may be used
_PLAN_LOCK = threading.Lock()


def plan() -> dict:
    """How UDF processes are confined here (probed once per process, then cached).

    ``{"level": "namespaces" | "subreaper" | "group", "settings": {...for the worker...},
    "prefix": [command words before the interpreter], "protections": {name: bool},
    "missing": [names]}``. Namespaces are tried unless the active options say not to
    (``udf_namespaces``)."""
    from ..options import active

    namespaces = active().udf_namespaces
    with _PLAN_LOCK:
        found = _PLANS.get(namespaces)
        if found is None:
            found = _PLANS[namespaces] = _choose(namespaces)
            if found["missing"]:
                LOG.warning(
                    "UDF isolation: %s level; not enforced on this machine: %s "
                    "(run pgc in a container that provides them)",
                    found["level"],
                    ", ".join(found["missing"]),
                )
        return found


def _choose(namespaces: bool = True) -> dict:
    if sys.platform != "linux":
        return _level("group", {}, [], {})
    root = os.geteuid() == 0
    unshare = shutil.which("unshare")
    if unshare and namespaces:
        prefix = [unshare, *_NAMESPACES]
        if not root:
            prefix[1:1] = ["--user", "--map-root-user"]
        # As root: become nobody; if that cannot work here, stay root without capabilities.
        for uid in (NOBODY, None) if root else (None,):
            settings = {"namespaces": True, "uid": uid, "reach": _reach() if uid else []}
            found = _probe(prefix + ["--"], settings)
            if found is not None:
                return _level("namespaces", settings, prefix + ["--"], found)
        LOG.debug("UDF isolation: namespaces are not available (unshare failed)")
    return _level("subreaper", {"namespaces": False, "supervise": True}, [], {})


def _level(level: str, settings: dict, prefix: list[str], found: dict) -> dict:
    namespaces = level == "namespaces"
    protections = {
        "time": True,
        "memory": sys.platform == "linux",
        "processes": level in ("namespaces", "subreaper"),
        "network": namespaces and bool(found.get("network")),
        # Without namespaces pgc is not dumpable while a UDF runs: that stops the same uid,
        # not root (which the UDF then is when pgc is).
        "parent_environ": (level == "subreaper" and os.geteuid() != 0)
        or (namespaces and bool(found.get("proc"))),
        "writes": namespaces and bool(found.get("readonly")),
        "privileges": namespaces and bool(found.get("nocaps")),
        "process_count": namespaces and found.get("uid") == NOBODY,
    }
    if namespaces and settings.get("uid") is None and os.geteuid() == 0:
        protections["nobody"] = False  # root without capabilities, not nobody
    missing = [name for name, on in protections.items() if not on]
    return {
        "level": level,
        "settings": settings,
        "prefix": prefix,
        "protections": protections,
        "missing": missing,
    }


def _reach() -> list[str]:
    """Folders the worker needs to read (interpreter, libraries, pgc)."""
    root = Path(__file__).resolve().parents[2]
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable)}
    paths |= {p for p in sys.path if p} | {str(root)}
    found = set()
    for path in paths:
        real = os.path.realpath(path)
        if os.path.isdir(real) and real != "/":
            found.add(real)
    return sorted(found)


def _probe(prefix: list[str], settings: dict) -> dict | None:
    """Run this file as a script inside the confinement; what it found, or None."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pgc-udf-probe-", ignore_cleanup_errors=True) as folder:
        if settings.get("uid") is not None:
            os.chown(folder, settings["uid"], settings["uid"])
        command = prefix + [sys.executable, "-I", "-S", __file__, "probe", folder]
        try:
            done = subprocess.run(
                command + [json.dumps(settings)],
                cwd=folder,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=_PROBE_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            LOG.debug("UDF isolation probe failed: %s", exc)
            return None
        if done.returncode != 0:
            LOG.debug("UDF isolation probe failed: %s", done.stderr[-2000:])
            return None
        try:
            found = json.loads(done.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None
        return found if isinstance(found, dict) else None


def _probe_main(folder: str, settings: dict) -> None:
    """In the confinement: set it up as a worker would and check the result."""
    confine(folder, settings)
    found: dict[str, Any] = {"uid": os.geteuid()}
    found["readonly"] = _cannot_write("/") and _cannot_write(os.path.dirname(folder))
    try:
        Path("probe.txt").write_text("x")  # relative: the working directory too
        Path(folder, "probe.txt").unlink()
        found["scratch"] = True
    except OSError:
        found["scratch"] = False
    # PID 1 of a new PID namespace with its own /proc: pgc's process is not in it.
    found["proc"] = os.getpid() == 1 and os.readlink("/proc/self") == "1"
    found["network"] = _no_network()
    found["nocaps"] = _capabilities() == 0
    if not found["scratch"]:
        raise SystemExit(1)
    print(json.dumps(found))


def _cannot_write(folder: str) -> bool:
    name = os.path.join(folder, f".pgc-probe-{os.getpid()}")
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return True
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return False


def _no_network() -> bool:
    import socket

    names = [n for _, n in socket.if_nameindex()]
    return names == ["lo"] or names == []


def _capabilities() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return -1


# ---------------------------------------------------------------------------------------
# pgc's side: while a UDF runs, and stopping it


_UNDUMPABLE = {"count": 0, "before": None}
_UNDUMPABLE_LOCK = threading.Lock()


@contextlib.contextmanager
def parent_guard(level: str):
    """Without namespaces: pgc is not dumpable while a UDF runs, so that a process of the
    same uid cannot read its ``/proc/PID/environ`` or memory."""
    if level != "subreaper":
        yield
        return
    libc = _libc()
    with _UNDUMPABLE_LOCK:
        if _UNDUMPABLE["count"] == 0:
            _UNDUMPABLE["before"] = _prctl(libc, PR_GET_DUMPABLE)
            _prctl(libc, PR_SET_DUMPABLE, 0)
        _UNDUMPABLE["count"] += 1
    try:
        yield
    finally:
        with _UNDUMPABLE_LOCK:
            _UNDUMPABLE["count"] -= 1
            if _UNDUMPABLE["count"] == 0 and _UNDUMPABLE["before"] in (1, 2):
                _prctl(libc, PR_SET_DUMPABLE, _UNDUMPABLE["before"])


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid``'s descendants (Linux: found in /proc), then ``pid``'s group and
    ``pid``. With namespaces, killing the namespace's PID 1 (a child of ``pid``) kills
    everything in it; without, a subreaper ``pid`` holds whatever the UDF left behind."""
    if os.name != "posix":
        return
    if sys.platform == "linux":
        for _ in range(20):
            others = _descendants(pid)
            if not others:
                break
            for other in others:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(other, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                text = stat.read()
        except OSError:
            continue
        fields = text[text.rfind(b")") + 2 :].split()
        if len(fields) > 1 and fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


# ---------------------------------------------------------------------------------------
# The UDF process's side


def confine(folder: str, settings: dict) -> None:
    """Set up what ``settings`` ask for, before any user code runs; SandboxError if a
    protection cannot be set up (the worker then refuses to run the UDF)."""
    with contextlib.suppress(ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if settings.get("supervise"):
        _supervise()
    if not settings.get("namespaces"):
        return
    libc = _libc()
    folder = os.path.realpath(folder)
    uid = settings.get("uid")
    if uid is not None:
        _expose(libc, [*settings.get("reach", []), folder])
        if settings.get("nproc"):  # counts the tasks of the uid: only for nobody, not root
            import resource

            resource.setrlimit(resource.RLIMIT_NPROC, (settings["nproc"], settings["nproc"]))
    _mount(libc, folder, folder, None, MS_BIND, "bind the scratch folder")
    _minimal_dev(libc)
    _read_only(libc, folder)
    _drop_privileges(libc, uid)
    os.chdir(folder)  # the working directory was on the mount below the scratch mount


def limit_memory(megabytes: float | None) -> float | None:
    """``RLIMIT_AS`` (soft and hard: the UDF cannot raise it) to ``megabytes`` more than
    this process maps now, or to pgc's own hard limit when that is lower; the limit the
    UDF has (MB), or None."""
    if not megabytes or os.name != "posix":
        return None
    import resource

    held = _address_space()
    limit = held + int(megabytes * 2**20)
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)  # never above what pgc itself was given
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        if sys.platform == "linux":
            raise
        return None  # e.g. macOS does not enforce RLIMIT_AS: isolation() says so
    return (limit - held) / 2**20


def _address_space() -> int:
    """Bytes of address space this process maps (Linux: ``VmSize``); 0 where unknown."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmSize:\s*(\d+)\s*kB", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else 0


def _mount(libc: Any, source: str | None, target: str, fstype: str | None, flags: int,
           what: str, data: str | None = None) -> None:  # fmt: skip
    def raw(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    _check(libc.mount(raw(source), raw(target), raw(fstype), flags, raw(data)), what)


def _expose(libc: Any, paths: list[str]) -> None:
    """Let ``nobody`` reach ``paths``: a folder on the way it may not pass is covered by a
    tmpfs showing only the needed entries (bound from the original)."""
    covered: dict[str, int] = {}
    try:
        for path in sorted(paths):
            parts = Path(path).parts
            for depth in range(1, len(parts)):
                folder = os.path.join(*parts[:depth])
                child = parts[depth]
                if folder not in covered and os.stat(folder).st_mode & 0o001:
                    continue
                if folder not in covered:
                    covered[folder] = os.open(folder, os.O_PATH | os.O_DIRECTORY)
                    _mount(libc, "tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV,
                           f"cover {folder}", "mode=0755,size=64k")  # fmt: skip
                target = os.path.join(folder, child)
                if not os.path.lexists(target):
                    os.mkdir(target, 0o755)
                    source = f"/proc/self/fd/{covered[folder]}/{child}"
                    _mount(libc, source, target, None, MS_BIND | MS_REC, f"show {target}")
    finally:
        for fd in covered.values():
            os.close(fd)


def _minimal_dev(libc: Any) -> None:
    """A tmpfs /dev with the harmless devices only (no disks, no consoles)."""
    old = os.open("/dev", os.O_PATH | os.O_DIRECTORY)
    try:
        _mount(libc, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mount /dev",
               "mode=0755,size=64k")  # fmt: skip
        for name in _DEVICES:
            if not os.path.exists(f"/proc/self/fd/{old}/{name}"):
                continue
            Path("/dev", name).touch(0o666)
            _mount(libc, f"/proc/self/fd/{old}/{name}", f"/dev/{name}", None, MS_BIND,
                   f"bind /dev/{name}")  # fmt: skip
        os.mkdir("/dev/shm", 0o755)
        os.symlink("/proc/self/fd", "/dev/fd")
        for number, name in enumerate(("stdin", "stdout", "stderr")):
            os.symlink(f"/proc/self/fd/{number}", f"/dev/{name}")
    finally:
        os.close(old)


def _mounts() -> list[tuple[str, int]]:
    """(mount point, flags to keep) of every mount, from /proc/self/mountinfo."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as info:
        for line in info:
            fields = line.split()
            point = _unescape(fields[4])
            flags = 0
            for option in fields[5].split(","):
                flags |= _OPTION_FLAGS.get(option, 0)
            found.append((point, flags))
    return found


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 3 < len(text) and text[i + 1 : i + 4].isdigit():
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _read_only(libc: Any, scratch: str) -> None:
    """Every mount but the scratch folder read-only, nosuid, nodev (the devices of the
    minimal /dev keep working: they are not on a nodev mount)."""
    devices = {f"/dev/{name}" for name in _DEVICES}
    failed = []
    for point, flags in reversed(_mounts()):
        if point == scratch:
            libc.mount(None, os.fsencode(point), None,
                       MS_REMOUNT | MS_BIND | flags | MS_NOSUID | MS_NODEV, None)  # fmt: skip
            continue
        extra = MS_RDONLY | MS_NOSUID | (0 if point in devices else MS_NODEV)
        if libc.mount(None, os.fsencode(point), None, MS_REMOUNT | MS_BIND | flags | extra,
                      None) != 0:  # fmt: skip
            failed.append((point, os.strerror(ctypes.get_errno())))
    # A mount that failed may be hidden below another one (then it does not matter): what
    # counts is that every mount point one can reach is read-only.
    for point, _flags in _mounts():
        if point == scratch or point in devices or not os.path.exists(point):
            continue
        if not os.statvfs(point).f_flag & os.ST_RDONLY:
            why = dict(failed).get(point, "not remounted")
            raise SandboxError(f"cannot make {point} read-only: {why}")


def _drop_privileges(libc: Any, uid: int | None) -> None:
    for cap in range(64):
        if _prctl(libc, PR_CAPBSET_DROP, cap) != 0 and ctypes.get_errno() == errno.EINVAL:
            break
    _check(_prctl(libc, PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # clears all capabilities
        # The uid change made the process not dumpable: its own /proc/self files would be
        # root's. Dumpable again, they are nobody's (for the UDF itself; pgc is root).
        _prctl(libc, PR_SET_DUMPABLE, 1)
    else:
        header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (ctypes.c_uint32 * 6)()
        _check(libc.capset(header, data), "drop capabilities")
    if _capabilities() != 0:
        raise SandboxError("capabilities remain after dropping them")


def _supervise() -> None:
    """Without namespaces: fork; the parent (a child subreaper) waits for the worker, then
    kills whatever it left behind, and exits with its status; the child returns and runs
    the UDF. SIGTERM (pgc stopping the UDF) kills the worker and all of them."""
    libc = _libc()
    _check(_prctl(libc, PR_SET_CHILD_SUBREAPER, 1), "become a subreaper")
    child = os.fork()
    if child == 0:
        _prctl(libc, PR_SET_CHILD_SUBREAPER, 0)
        _prctl(libc, PR_SET_PDEATHSIG, signal.SIGKILL)
        return

    def stop(*_: Any) -> None:
        _kill_all_children()
        os._exit(137)

    signal.signal(signal.SIGTERM, stop)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            status = 1 << 8
            break
        except InterruptedError:
            continue
    _kill_all_children()
    os._exit(os.waitstatus_to_exitcode(status) if status >= 0 else 1)


def _kill_all_children() -> None:
    for _ in range(50):
        others = _descendants(os.getpid())
        for other in others:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(other, signal.SIGKILL)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
        if not others:
            time.sleep(0.01)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "probe":
    _probe_main(sys.argv[2], json.loads(sys.argv[3]))
