"""Bounded byte input and bounds-checked message cursors for the first-flight reader."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

EndedBy = Literal[
    "done", "alert", "eof", "reset", "timeout", "socket_error", "cap", "malformed", "non_tls"
]
Recv = Callable[[int], bytes]


class Stop(Exception):
    """The byte stream ended: kind is one of EndedBy, message for humans."""

    def __init__(self, kind: EndedBy, message: str) -> None:
        super().__init__(message)
        self.kind: EndedBy = kind
        self.message = message


class Malformed(Stop):
    def __init__(self, message: str) -> None:
        super().__init__("malformed", message)


class ByteInput:
    """Bytes from `recv`, at most `cap` of them; every failure becomes `Stop`."""

    def __init__(self, recv: Recv, cap: int) -> None:
        self._recv = recv
        self._cap = max(cap, 0)
        self._buf = bytearray()
        self.total = 0

    def buffered(self) -> bytes:
        return bytes(self._buf)

    def take(self, n: int) -> bytes:
        while len(self._buf) < n:
            self._fill(n - len(self._buf))
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _fill(self, want: int) -> None:
        room = self._cap - self.total
        if want > room:
            raise Stop("cap", f"stopped at the {self._cap}-byte cap without a complete answer")
        try:
            chunk = self._recv(min(max(want, 16384), room))
        except TimeoutError:
            raise Stop(
                "timeout", f"timed out waiting for the server after {self.total} bytes"
            ) from None
        except ConnectionResetError:
            raise Stop(
                "reset", f"connection reset by the server after {self.total} bytes"
            ) from None
        except OSError as exc:
            raise Stop("socket_error", f"socket error after {self.total} bytes: {exc}") from None
        if not chunk:
            raise Stop("eof", f"connection closed by the server after {self.total} bytes")
        chunk = bytes(chunk[:room])
        self.total += len(chunk)
        self._buf += chunk


class Cursor:
    """Bounds-checked reads inside one message."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n > self.remaining():
            raise Malformed(
                f"{self.what}: field of {n} bytes at offset {self.pos}, only {self.remaining()} left"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vec(self, size: int) -> bytes:
        return self.take(self.uint(size))


class AtBoundary(Stop):
    """The stream ended cleanly between records."""


def take_boundary_byte(inp: ByteInput) -> int:
    """The first byte of the next record; a close here is 'at a record boundary'."""
    try:
        return inp.take(1)[0]
    except Stop as stop:
        raise AtBoundary(stop.kind, stop.message) from None
