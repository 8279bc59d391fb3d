"""A throw-away PostgreSQL cluster for the tests: ``initdb`` in a temporary folder, on a free loopback port.

Debian's ``postgresql`` package (``.ci/install`` installs it) puts ``initdb`` and ``pg_ctl`` in
``/usr/lib/postgresql/<version>/bin``. PostgreSQL refuses to run as root, so under root the cluster runs
as the unprivileged ``nobody`` (``runuser``). Tests that need it skip with the reason when none can start.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from whyrec.store.ports import free_port


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class Cluster:
    """A running cluster; :meth:`database` makes a fresh empty database and returns its URL."""

    def __init__(self, root: Path, port: int, as_user: list[str], durable: bool):
        self.root, self.port, self.as_user, self.durable = root, port, as_user, durable

    @property
    def admin_url(self) -> str:
        return f"postgresql://whyrec@127.0.0.1:{self.port}/postgres"

    def database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://whyrec@127.0.0.1:{self.port}/{name}"

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, _binary("pg_ctl"), "-D", str(self.root / "data"), *args], capture_output=True, text=True, timeout=60
        )

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "-w", "stop")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200" + ("" if self.durable else " -c fsync=off")
        result = self.pg_ctl("-o", options, "-l", str(self.root / "log"), "-w", "-t", "60", "start")
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {result.stderr.strip() or result.stdout.strip()}")


@contextmanager
def postgres_cluster(durable: bool = False) -> Iterator[Cluster]:
    """Start a cluster for the length of the block, or skip the test with the reason.

    Tests run it with ``fsync=off`` (a crash of the test machine loses nothing they need); ``durable=True``
    keeps PostgreSQL's default, flushing each commit to disk as a production server does (benchmarks).
    """
    initdb = _binary("initdb")
    if initdb is None or _binary("pg_ctl") is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (.ci/install installs Debian's postgresql)")
    try:
        import psycopg  # noqa: F401
    except ModuleNotFoundError:
        pytest.skip("psycopg is not installed: pip install 'whyrec[postgres]'")
    as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="whyrec-pg-"))
    cluster = None
    try:
        if as_user:
            shutil.chown(root, "nobody")
        made = subprocess.run(
            [*as_user, initdb, "-D", str(root / "data"), "-A", "trust", "-U", "whyrec", "-E", "UTF8", "--no-sync"],
            capture_output=True, text=True, timeout=120,
        )
        if made.returncode != 0:
            pytest.skip(f"initdb could not make a cluster: {(made.stderr or made.stdout).strip().splitlines()[-1:]}")
        cluster = Cluster(root, free_port(), as_user, durable)
        try:
            cluster.start()
        except RuntimeError as error:
            pytest.skip(str(error))
        yield cluster
    finally:
        if cluster is not None:
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
