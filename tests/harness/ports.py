"""Free loopback ports and TCP reachability checks."""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

LOOPBACK = "127.0.0.1"
LOWEST_PORT = 20000
WELL_KNOWN = frozenset({25672})  # a default RabbitMQ node's distribution port

_handed_out: set[int] = set()
_lock = threading.Lock()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback TCP port that is free now and was not handed out before by this process.

    Ports come from below the kernel's ephemeral range, so no outgoing connection can take one as its
    local port while a broker is down for a restart. The port is only reserved by convention; a broker
    started on a port taken meanwhile fails fast and is retried on a new port by the harness.
    """
    ephemeral_low, _ = _ephemeral_range()
    if ephemeral_low - LOWEST_PORT >= 1000:
        for _ in range(200):
            port = random.randrange(LOWEST_PORT, ephemeral_low)
            with _lock:
                if port in _handed_out or port in WELL_KNOWN:
                    continue
            if _bindable(port):
                with _lock:
                    _handed_out.add(port)
                return port
    for _ in range(50):  # fall back to a port the kernel chooses
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
        with _lock:
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("no free loopback port found")


def accepts_connections(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
