"""Raw-socket HTTP/1.1 pieces for the EndpointSlice benchmarks (standard library only).

* `Conn`: one keep-alive connection for requests (Content-Length or chunked responses), with
  separate send() and response() so a caller can take t0 just before the bytes are written.
* `WatchStream`: one watch request read with `loop.add_reader` + `recvmsg` and kernel receive
  timestamps (SO_TIMESTAMPNS). The hot path counts wire bytes and HTTP chunk payload bytes with
  an incremental de-chunker and, for streams opened with keep=True, keeps the payload pieces
  (with the kernel time of the read that carried them) for parsing later. Streams with
  keep=False hold no data at all, so hundreds of them can receive megabyte events.

Everything talks to 127.0.0.1 only; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time

HOST = "127.0.0.1"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)      # Linux value (not exported by Python 3.11)
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
ANC_SIZE = socket.CMSG_SPACE(16)
RECV_SIZE = 262144


class Conn:
    """One keep-alive HTTP/1.1 connection on 127.0.0.1 (raw socket, asyncio)."""

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None
        self.buf = bytearray()

    async def connect(self, timeout: float = 10.0) -> "Conn":
        loop = asyncio.get_running_loop()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        await asyncio.wait_for(loop.sock_connect(self.sock, (HOST, self.port)), timeout)
        return self

    def encode(self, method: str, path: str, body: bytes | None = None,
               content_type: str = "application/json") -> bytes:
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nAccept: application/json\r\n"
        if body is not None:
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        return (head + "\r\n").encode() + (body or b"")

    async def send(self, method: str, path: str, body: bytes | None = None,
                   content_type: str = "application/json") -> int:
        """Writes the request; returns time.time_ns() taken just before the first byte is written."""
        loop = asyncio.get_running_loop()
        data = self.encode(method, path, body, content_type)
        t0 = time.time_ns()
        await loop.sock_sendall(self.sock, data)
        return t0

    async def response(self, timeout: float = 30.0) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
                status = int(head[0].split()[1])
                clen = 0
                chunked = False
                for h in head[1:]:
                    k, _, v = h.partition(":")
                    k = k.strip().lower()
                    if k == "content-length":
                        clen = int(v)
                    elif k == "transfer-encoding" and "chunked" in v.lower():
                        chunked = True
                if chunked:
                    body = _dechunk_complete(self.buf, end + 4)
                    if body is not None:
                        payload, consumed = body
                        del self.buf[:consumed]
                        return status, payload
                elif len(self.buf) >= end + 4 + clen:
                    payload = bytes(self.buf[end + 4:end + 4 + clen])
                    del self.buf[:end + 4 + clen]
                    return status, payload
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("response timed out")
            data = await asyncio.wait_for(loop.sock_recv(self.sock, RECV_SIZE), left)
            if not data:
                raise ConnectionError("connection closed by server")
            self.buf += data

    async def request(self, method: str, path: str, body=None, content_type: str = "application/json",
                      timeout: float = 30.0) -> tuple[int, bytes]:
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body, separators=(",", ":")).encode()
        await self.send(method, path, body, content_type)
        return await self.response(timeout)

    async def json(self, method: str, path: str, body=None, content_type: str = "application/json",
                   timeout: float = 30.0):
        st, data = await self.request(method, path, body, content_type, timeout)
        try:
            return st, json.loads(data) if data else None
        except ValueError:
            return st, data

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _dechunk_complete(buf: bytearray, pos: int):
    """(payload, bytes consumed) if buf[pos:] holds a complete chunked body, else None."""
    out = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";")[0].strip() or b"0", 16)
        pos = eol + 2
        if size == 0:                            # no trailers expected: "0\r\n\r\n"
            return None if len(buf) < pos + 2 else (bytes(out), pos + 2)
        if len(buf) < pos + size + 2:
            return None
        out += buf[pos:pos + size]
        pos += size + 2


class WatchStream:
    """One watch stream. Hot path: counts bytes, de-chunks, keeps payload pieces if `keep`."""

    __slots__ = ("label", "path", "keep", "sock", "wire_bytes", "payload_bytes", "closed", "error",
                 "hbuf", "headers_done", "status", "chunked", "chunk_left", "sizebuf", "crlf_left",
                 "body_ended", "framing_errors", "payload", "linebuf", "events", "last_kns",
                 "first_payload_kns", "t_connected", "chunks")

    def __init__(self, label: str, path: str, keep: bool = True):
        self.label = label
        self.path = path
        self.keep = keep
        self.sock: socket.socket | None = None
        self.wire_bytes = 0
        self.payload_bytes = 0
        self.chunks = 0
        self.closed = False
        self.error: str | None = None
        self.hbuf = bytearray()
        self.headers_done = False
        self.status = 0
        self.chunked = False
        self.chunk_left = 0
        self.sizebuf = bytearray()
        self.crlf_left = 0
        self.body_ended = False
        self.framing_errors = 0
        self.payload: list[tuple[int, int, bytes]] = []  # (kernel ns, user ns, payload bytes), unparsed
        self.linebuf = bytearray()
        self.events: list[dict] = []                     # parsed: type, object, kns, bytes
        self.last_kns = 0
        self.first_payload_kns = 0
        self.t_connected = 0

    # ---- hot path ------------------------------------------------------------------------
    def feed(self, data: bytes, kns: int, uns: int = 0) -> None:
        self.wire_bytes += len(data)
        self.last_kns = kns
        if not self.headers_done:
            self.hbuf += data
            end = self.hbuf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.hbuf[:end]).decode("latin-1").split("\r\n")
            data = bytes(self.hbuf[end + 4:])
            self.hbuf = bytearray()
            self.headers_done = True
            try:
                self.status = int(head[0].split()[1])
            except (IndexError, ValueError):
                self.status = -1
            for h in head[1:]:
                k, _, v = h.partition(":")
                if k.strip().lower() == "transfer-encoding" and "chunked" in v.lower():
                    self.chunked = True
        if not self.chunked:
            self._payload(data, kns, uns)
            return
        i, n = 0, len(data)
        while i < n and not self.body_ended:
            if self.chunk_left > 0:
                take = min(self.chunk_left, n - i)
                if self.keep:
                    self._payload(data[i:i + take], kns, uns)
                else:                            # count only: no copy
                    if not self.payload_bytes:
                        self.first_payload_kns = kns
                    self.payload_bytes += take
                i += take
                self.chunk_left -= take
                if self.chunk_left == 0:
                    self.crlf_left = 2
            elif self.crlf_left > 0:
                take = min(self.crlf_left, n - i)
                if data[i:i + take] != b"\r\n"[2 - self.crlf_left:2 - self.crlf_left + take]:
                    self.framing_errors += 1
                i += take
                self.crlf_left -= take
            else:
                nl = data.find(b"\n", i)
                if nl < 0:
                    self.sizebuf += data[i:]
                    if len(self.sizebuf) > 64:
                        self.framing_errors += 1
                        self.sizebuf.clear()
                    return
                line = bytes(self.sizebuf) + data[i:nl]
                self.sizebuf.clear()
                i = nl + 1
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self.framing_errors += 1
                    continue
                self.chunks += 1
                if size == 0:
                    self.body_ended = True
                else:
                    self.chunk_left = size

    def _payload(self, data: bytes, kns: int, uns: int) -> None:
        if not data:
            return
        if not self.payload_bytes:
            self.first_payload_kns = kns
        self.payload_bytes += len(data)
        if self.keep:
            self.payload.append((kns, uns, data))

    # ---- parsing (not on the hot path) ---------------------------------------------------
    def parse(self) -> list[dict]:
        """Turns the kept payload into events; returns the new ones. Each event has
        type, object, kns and uns (kernel and user-space time of the read that completed its
        line) and bytes (its line's payload bytes, newline included)."""
        pieces, self.payload = self.payload, []
        new = []
        for kns, uns, data in pieces:
            self.linebuf += data
            while True:
                nl = self.linebuf.find(b"\n")
                if nl < 0:
                    break
                line = bytes(self.linebuf[:nl])
                del self.linebuf[:nl + 1]
                if not line.strip():
                    continue
                try:
                    ev = json.loads(line)
                except ValueError:
                    ev = {"type": "UNPARSABLE", "object": None}
                if not isinstance(ev, dict):
                    ev = {"type": "UNPARSABLE", "object": None}
                ev = {"type": ev.get("type"), "object": ev.get("object"), "kns": kns, "uns": uns, "bytes": nl + 1}
                new.append(ev)
        self.events += new
        return new


def _on_readable(w: WatchStream, loop: asyncio.AbstractEventLoop) -> None:
    sock = w.sock
    for _ in range(64):                          # bounded per callback; the loop calls again
        try:
            data, anc, _flags, _addr = sock.recvmsg(RECV_SIZE, ANC_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            w.error = f"recv: {e}"
            data = b""
        if not data:
            w.closed = True
            loop.remove_reader(sock.fileno())
            return
        uns = time.time_ns()
        kns = 0
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == SCM_TIMESTAMPNS and len(cdata) >= 16:
                sec, nsec = struct.unpack("qq", cdata[:16])
                kns = sec * 1_000_000_000 + nsec
        w.feed(data, kns or uns, uns)
        if len(data) < RECV_SIZE:
            return


async def open_stream(w: WatchStream, port: int, sem: asyncio.Semaphore | None = None) -> WatchStream:
    loop = asyncio.get_running_loop()

    async def go():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        req = (f"GET {w.path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept: application/json\r\n\r\n").encode()
        try:
            await asyncio.wait_for(loop.sock_connect(s, (HOST, port)), 10)
            await loop.sock_sendall(s, req)
        except (OSError, asyncio.TimeoutError) as e:
            w.error = f"connect/send: {e!r}"
            s.close()
            return
        w.sock = s
        w.t_connected = time.time_ns()
        loop.add_reader(s.fileno(), _on_readable, w, loop)

    if sem is None:
        await go()
    else:
        async with sem:
            await go()
    return w


def close_stream(w: WatchStream) -> None:
    if w.sock is None:
        return
    if not w.closed:
        try:
            asyncio.get_running_loop().remove_reader(w.sock.fileno())
        except (RuntimeError, ValueError):
            pass
    w.sock.close()
    w.sock = None
    w.closed = True


async def wait_headers(streams: list[WatchStream], timeout: float = 30.0) -> int:
    """Waits (bounded) until every open stream has its response head; returns how many lack it."""
    deadline = time.monotonic() + timeout
    while True:
        missing = sum(1 for w in streams if w.sock is not None and not w.headers_done)
        if missing == 0 or time.monotonic() > deadline:
            return missing
        await asyncio.sleep(0.01)


async def wait_quiet(streams: list[WatchStream], quiet: float, timeout: float) -> bool:
    """Waits until no stream received a byte for `quiet` seconds (bounded); True if it went quiet."""
    deadline = time.monotonic() + timeout
    last_total, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        total = sum(w.wire_bytes for w in streams)
        if total != last_total:
            last_total, last_change = total, time.monotonic()
        elif time.monotonic() - last_change >= quiet:
            return True
        await asyncio.sleep(0.02)
    return False


async def wait_settled(groups: list[list[WatchStream]], quiet: float, timeout: float) -> dict:
    """Waits (bounded) until no stream received a byte for `quiet` seconds AND every group is
    consistent: all its streams hold the same number of payload bytes and no kept stream holds a
    partial event line. Records the longest gap in arrivals while the groups were inconsistent
    (a stall), so a server that stops sending for a while is reported rather than cut short."""
    streams = [w for g in groups for w in g]
    t0 = time.monotonic()
    deadline = t0 + timeout
    last_total, last_change = -1, t0
    longest_stall = 0.0

    def consistent() -> bool:
        for g in groups:
            if len({w.payload_bytes for w in g if w.sock is not None}) > 1:
                return False
            for w in g:
                if w.keep:
                    w.parse()
                    if w.linebuf:
                        return False
        return True

    while time.monotonic() < deadline:
        now = time.monotonic()
        total = sum(w.wire_bytes for w in streams)
        if total != last_total:
            last_total, last_change = total, now
        elif now - last_change >= quiet:
            if consistent():
                return {"settled": True, "seconds": round(last_change - t0, 3), "longest_stall_s": round(longest_stall, 3)}
            longest_stall = max(longest_stall, now - last_change)
        await asyncio.sleep(0.02)
    return {"settled": False, "seconds": round(time.monotonic() - t0, 3), "longest_stall_s": round(longest_stall, 3)}
