"""A free TCP port on this machine, for a server started on a port nobody chose: the embedded local model
(:mod:`agent.local_model`), and the servers the tests and benchmarks start (``whyrec serve``, ``chroma run``, PostgreSQL).

It lives in the lowest layer so that every layer, the tests and the benchmarks take it from one place.
"""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` right now; the server should bind it soon, as another process may take it meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
