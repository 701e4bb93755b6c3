"""What the testbed's own servers share: the address rule, arguments, logging and the pidfile.

The address rule lives here, once: the testbed binds only specific addresses in
127.0.10.0-127.0.19.255 (never a wildcard). ``testbed/tb/common.py`` imports it from here.
The servers run as scripts (``python3 testbed/servers/hostile.py``), so this module needs
nothing beyond the standard library.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import logging.handlers
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

RANGE = "127.0.10.0-127.0.19.255"
_LOW, _HIGH = ipaddress.IPv4Address("127.0.10.0"), ipaddress.IPv4Address("127.0.19.255")
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 3
MAX_EVENTS = 24  # events remembered per connection for its log line


def note_event(events: list[str], event: str) -> None:
    """Remember ``event`` for the connection's log line; past MAX_EVENTS only "…" is added."""
    if len(events) <= MAX_EVENTS:
        events.append(event if len(events) < MAX_EVENTS else "…")


def in_testbed_range(ip: str) -> bool:
    """``ip`` is an IPv4 address within 127.0.10.0-127.0.19.255 (anything else: False)."""
    try:
        return _LOW <= ipaddress.IPv4Address(ip) <= _HIGH
    except ValueError:
        return False


def check_address(text: str) -> str:
    """An argparse type: one IPv4 address within the testbed's range."""
    if not in_testbed_range(text):
        raise argparse.ArgumentTypeError(f"{text} is outside {RANGE}")
    return text


def check_bind_base(base: str) -> str:
    """An argparse type: a three-octet prefix ``127.0.1X`` (X in 0-9), the testbed's range."""
    try:
        ipaddress.IPv4Address(f"{base}.1")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a three-octet prefix: {base!r}") from None
    if not in_testbed_range(f"{base}.1"):
        raise argparse.ArgumentTypeError("bind-base must be within 127.0.10 - 127.0.19")
    return base


def add_server_arguments(p: argparse.ArgumentParser, *, key_help: str | None = None) -> None:
    """--port, --cert, --key, --chain, --pidfile and --logfile, the same for every server."""
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--cert", type=Path, required=True, help="leaf certificate (may hold the chain)")
    p.add_argument("--key", type=Path, required=True, help=key_help)
    p.add_argument("--chain", type=Path, help="intermediate certificates sent after the leaf")
    p.add_argument("--pidfile", type=Path, help="written once every address is bound")
    p.add_argument("--logfile", type=Path, help="rotated log of every connection; default stderr")


def setup_logging(log: logging.Logger, logfile: Path | None) -> None:
    """``log`` to ``logfile`` (rotated, so a server can run for days) or to stderr."""
    handler: logging.Handler
    if logfile is None:
        handler = logging.StreamHandler(sys.stderr)
    else:
        handler = logging.handlers.RotatingFileHandler(
            logfile, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS
        )
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def write_pidfile(pidfile: Path | None) -> None:
    """Our pid, written once every address is bound (testbed.py stops us by it)."""
    if pidfile is not None:
        pidfile.write_text(f"{os.getpid()}\n")


def remove_pidfile(pidfile: Path | None) -> None:
    if pidfile is not None:
        with contextlib.suppress(OSError):
            pidfile.unlink()


def run_asyncio_server(
    log: logging.Logger,
    args: argparse.Namespace,
    serve: Callable[[argparse.Namespace], Coroutine[Any, Any, None]],
) -> int:
    """Log to ``args.logfile``, write ``args.pidfile``, run ``serve(args)`` until stopped."""
    setup_logging(log, args.logfile)
    write_pidfile(args.pidfile)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0
