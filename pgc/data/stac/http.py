"""Files over HTTP for GDAL, fetched by pgc: range requests to allowed hosts only, every
byte counted, the blocks a read needs fetched together.

GDAL decodes the GeoTIFF; pgc makes every request (rasterio's ``opener=``). That is how the
allow-list (:mod:`pgc.hosts`) holds for every request, redirects included: GDAL's own
``/vsicurl/`` follows a redirect to any host. Each request is a ``GET`` with a ``Range``
header, redirects are followed by pgc only to URLs the policy allows (at most
:data:`MAX_REDIRECTS`), and the bytes received are counted (:class:`Transfer`).

Reads are planned: :meth:`HttpFiles.prefetch` fetches the byte ranges of the blocks a
window needs (from the COG's block offsets), adjacent ranges merged into one request and
requests run concurrently; GDAL's reads are then served from memory. What GDAL asks for
beyond them (the header, a block not prefetched) is fetched in chunks of at least
:data:`CHUNK` bytes, like GDAL's ``/vsicurl/``.

>>> merge([(0, 10), (10, 20), (40, 50)], gap=0)
[(0, 20), (40, 50)]
"""

from __future__ import annotations

import bisect
import io
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from ...hosts import HostPolicy, HostRefused

CHUNK = 16384  # bytes: the least one request asks for (GDAL's /vsicurl/ chunk)
HEADER = 16384  # bytes GDAL reads at open: a COG's header (IFDs, block offsets) is in them
HELD = 256 * 2**20  # bytes of fetched blocks one read keeps in memory for reuse
MAX_REDIRECTS = 3
TIMEOUT = 30.0  # seconds per request (connect and read)


class RemoteError(OSError):
    """A request that failed (status, timeout, refused host); the message names the host,
    never a local path."""


def merge(ranges: Iterable[tuple[int, int]], gap: int = 0) -> list[tuple[int, int]]:
    """Byte ranges [start, stop) sorted, with those that overlap or lie within ``gap``
    bytes of each other joined."""
    out: list[tuple[int, int]] = []
    for start, stop in sorted(ranges):
        if out and start <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(out[-1][1], stop))
        else:
            out.append((start, stop))
    return out


class PicklesWithoutLock:
    """A dataclass with a ``_lock``: pickled without it, a fresh lock when unpickled (the
    dask executor sends read plans to its workers)."""

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_lock")
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock())


@dataclass
class Transfer(PicklesWithoutLock):
    """Bytes and requests over the network in one run (thread-safe)."""

    bytes: int = 0
    requests: int = 0
    by_host: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, host: str, nbytes: int) -> None:
        with self._lock:
            self.bytes += nbytes
            self.requests += 1
            self.by_host[host] = self.by_host.get(host, 0) + nbytes


class _Segments:
    """The bytes of one file held in memory: sorted, non-overlapping (start, bytes)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.parts: list[bytes] = []
        self.size: int | None = None

    def find(self, start: int, stop: int) -> bytes | None:
        i = bisect.bisect_right(self.starts, start) - 1
        if i >= 0 and start >= self.starts[i] and stop <= self.starts[i] + len(self.parts[i]):
            offset = start - self.starts[i]
            return self.parts[i][offset : offset + (stop - start)]
        return None

    def missing(self, start: int, stop: int) -> list[tuple[int, int]]:
        """The parts of [start, stop) not held."""
        gaps, at = [], start
        i = max(0, bisect.bisect_right(self.starts, start) - 1)
        while at < stop and i < len(self.starts):
            s, e = self.starts[i], self.starts[i] + len(self.parts[i])
            if e <= at:
                i += 1
                continue
            if s > at:
                gaps.append((at, min(s, stop)))
            at = max(at, e)
            i += 1
        if at < stop:
            gaps.append((at, stop))
        return gaps

    @property
    def nbytes(self) -> int:
        return sum(len(part) for part in self.parts)

    def put(self, start: int, data: bytes) -> None:
        """Hold ``data`` at ``start``, joined with the segments it touches."""
        stop = start + len(data)
        i = bisect.bisect_left(self.starts, start)
        if i > 0 and self.starts[i - 1] + len(self.parts[i - 1]) >= start:
            i -= 1
        j = i
        new_start, chunks = start, [data]
        while j < len(self.starts) and self.starts[j] <= stop:
            s, part = self.starts[j], self.parts[j]
            if s < new_start:
                chunks.insert(0, part[: new_start - s])
                new_start = s
            if s + len(part) > stop:
                chunks.append(part[stop - s :])
                stop = s + len(part)
            j += 1
        self.starts[i:j] = [new_start]
        self.parts[i:j] = [b"".join(chunks)]


class HttpFiles:
    """The remote files of one read: a session, the host policy, what was fetched.

    Picklable (the dask executor sends read plans to its workers): a copy starts with no
    connections and nothing fetched, and counts in a transfer of its own."""

    def __init__(self, policy: HostPolicy, threads: int = 8) -> None:
        self.policy = policy
        self.threads = threads
        self.transfer = Transfer()  # the assets' bytes
        self.documents = Transfer()  # STAC documents: search results, static catalogs
        self._files: dict[str, _Segments] = {}  # in the order last used (oldest first)
        self._lock = threading.Lock()
        self._local = threading.local()

    def __getstate__(self) -> dict:
        return {"policy": self.policy, "threads": self.threads}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["policy"], state["threads"])  # type: ignore[misc]

    # -- requests ----------------------------------------------------------------------

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = self._local.session = requests.Session()
            session.trust_env = False  # no proxy or .netrc from the environment
        return session

    def check(self, url: str) -> str:
        """``url`` if the policy lets pgc reach it; :class:`RemoteError` saying why not."""
        try:
            return self.policy.check(url)
        except HostRefused as refused:
            raise RemoteError(str(refused)) from None

    def _request(self, url: str, headers: dict, expect: int, amount: int,
                 decode: bool = False) -> tuple[str, Any, bytes]:  # fmt: skip
        """GET ``url`` (the policy checks it and every redirect's target; at most
        :data:`MAX_REDIRECTS`), refused unless it answers ``expect``, reading at most
        ``amount`` bytes of the body whatever the server sends: (host, response, body)."""
        import requests
        from urllib3.exceptions import HTTPError

        target = self.check(url)
        for _ in range(MAX_REDIRECTS + 1):
            host = target.split("/")[2]
            try:
                with self._session().get(target, headers=headers, allow_redirects=False,
                                         timeout=TIMEOUT, stream=True) as response:  # fmt: skip
                    if response.is_redirect:
                        # a redirect is followed only where the policy allows its target
                        target = self.check(urljoin(target, response.headers.get("Location", "")))
                        continue
                    if response.status_code != expect:  # before any of the body is read
                        raise RemoteError(f"{host} answered {response.status_code}"
                                          + (" to a range request" if expect == 206 else ""))
                    data = response.raw.read(amount, decode_content=decode)
            except RemoteError:
                raise
            except (requests.RequestException, HTTPError, OSError) as exc:  # urllib3's, sockets'
                raise RemoteError(f"the request to {host} failed ({type(exc).__name__})") from None
            return host, response, data
        raise RemoteError(f"more than {MAX_REDIRECTS} redirects from {url.split('/')[2]}")

    def _get(self, url: str, start: int, stop: int) -> tuple[bytes, int | None]:
        """Bytes [start, stop) of ``url`` and the file's size (from Content-Range). A server
        that answers 200 (the whole file) is refused at the status."""
        headers = {"Range": f"bytes={start}-{stop - 1}", "Accept-Encoding": "identity"}
        host, response, data = self._request(url, headers, 206, stop - start)
        self.transfer.add(host, len(data))
        total = response.headers.get("Content-Range", "").rpartition("/")[2]
        return data, int(total) if total.isdigit() else None

    def get(self, url: str, limit: int) -> bytes:
        """The whole body of ``url`` (a JSON document), at most ``limit`` bytes."""
        return self._whole(url, limit, self.documents, "a document")

    def download(self, url: str, limit: int) -> bytes:
        """The whole file at ``url`` (an asset read whole: an exchanged cube), at most
        ``limit`` bytes, counted with the assets."""
        return self._whole(url, limit, self.transfer, "a file")

    def _whole(self, url: str, limit: int, counter: Transfer, what: str) -> bytes:
        host, _, data = self._request(url, {}, 200, limit + 1, decode=True)
        counter.add(host, len(data))
        if len(data) > limit:
            raise RemoteError(f"{what} from {host} is larger than {limit} bytes")
        return data

    # -- the files -----------------------------------------------------------------------

    def _segments(self, url: str) -> _Segments:
        with self._lock:
            segments = self._files.pop(url, None) or _Segments()
            self._files[url] = segments  # the most recently used last
            return segments

    def fetch(self, url: str, start: int, stop: int) -> None:
        """Fetch [start, stop) of ``url`` unless held."""
        segments = self._segments(url)
        with self._lock:
            gaps = segments.missing(start, stop)
        for a, b in gaps:
            data, size = self._get(url, a, b)
            with self._lock:
                if size is not None:
                    segments.size = size
                segments.put(a, data)

    def prefetch(self, url: str, ranges: Iterable[tuple[int, int]], gap: int = 0) -> None:
        """Fetch byte ranges of ``url`` that are not held: ranges within ``gap`` bytes of
        each other in one request, the requests concurrently."""
        segments = self._segments(url)
        with self._lock:
            wanted = [g for a, b in merge(ranges, gap) for g in segments.missing(a, b)]
        if len(wanted) <= 1:
            for a, b in wanted:
                self.fetch(url, a, b)
            return
        with ThreadPoolExecutor(min(self.threads, len(wanted))) as pool:
            list(pool.map(lambda r: self.fetch(url, *r), wanted))

    def read(self, url: str, start: int, stop: int) -> bytes:
        segments = self._segments(url)
        with self._lock:
            found = segments.find(start, stop)
        if found is None:
            size = segments.size
            end = max(stop, start + CHUNK)
            self.fetch(url, start, end if size is None else min(size, end))
            with self._lock:
                found = segments.find(start, min(stop, segments.size or stop)) or b""
        return found

    def size(self, url: str) -> int:
        segments = self._segments(url)
        if segments.size is None:
            self.fetch(url, 0, HEADER)
        if segments.size is None:
            raise RemoteError(f"{url.split('/')[2]} did not say how large the file is")
        return segments.size

    def trim(self, limit: int = HELD) -> None:
        """Keep at most ``limit`` bytes fetched: the files used longest ago keep only their
        headers. (A second pass over the same window -- the dask executor's writers decide
        the storage, then write -- is served from memory while the window fits.)"""
        with self._lock:
            held = sum(s.nbytes for s in self._files.values())
            for url, segments in list(self._files.items()):
                if held <= limit:
                    break
                head = segments.find(0, HEADER) if segments.starts[:1] == [0] else None
                fresh = _Segments()
                fresh.size = segments.size
                if head is not None:
                    fresh.put(0, head)
                held -= segments.nbytes - fresh.nbytes
                self._files[url] = fresh

    def open(self, url: str, mode: str = "rb") -> RemoteFile:
        """A read-only file of ``url`` (rasterio's ``opener``)."""
        if "r" not in mode or "w" in mode or "+" in mode:
            raise RemoteError("remote files are read only")
        return RemoteFile(self, url)


class RemoteFile(io.RawIOBase):
    """A seekable, read-only view of a remote file through :class:`HttpFiles`."""

    def __init__(self, files: HttpFiles, url: str) -> None:
        super().__init__()
        self.files, self.url, self.pos = files, url, 0
        self.length = files.size(url)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.length}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, size: int = -1) -> bytes:
        stop = self.length if size is None or size < 0 else min(self.length, self.pos + size)
        if stop <= self.pos:
            return b""
        data = self.files.read(self.url, self.pos, stop)
        self.pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


__all__ = [
    "CHUNK",
    "HEADER",
    "HttpFiles",
    "PicklesWithoutLock",
    "RemoteError",
    "RemoteFile",
    "Transfer",
    "merge",
]
