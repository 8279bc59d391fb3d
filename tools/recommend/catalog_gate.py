"""One catalog per call: a worker follows the database's catalog version, and no call mixes an old catalog with a new one.

Each worker keeps the catalog, popularity and the collaborative model in memory; the database counts ingests and
added interactions (``Database.catalog_version``). A call asks for the count when the last check is older than
``settings.catalog_check_seconds``; on a change the worker reloads once the calls still using the old catalog are
done, and calls that arrive meanwhile wait for the new one. A call that starts more than ``catalog_check_seconds``
after an ingest commits therefore never shows, recommends or explains an item the ingest removed
(docs/deployment.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class CatalogGate:
    """Lets calls in while the catalog is current, and holds them while it reloads."""

    def __init__(self, interval: Callable[[], float], version: Callable[[], int], reload: Callable[[], None]):
        """``interval``: seconds a check stays good (0 checks on every call); ``version``: the database's catalog
        version now; ``reload``: load the catalog again (it calls :meth:`loaded`)."""
        self._interval = interval
        self._version = version
        self._reload = reload
        self.version = -1
        self.checked = 0.0  # time.monotonic() of the last check
        self._gate = threading.Condition()  # a reload waits for the calls using the old catalog
        self._users = 0
        self._reloading = False
        self._depth = threading.local()  # calls nested in a call use its catalog

    def loaded(self, version: int) -> None:
        """The catalog at ``version`` is (being) loaded: read it before the data, so an ingest after it shows at the next check."""
        self.version = version
        self.checked = time.monotonic()

    @contextmanager
    def current(self) -> Iterator[None]:
        """Serve the call in the block from the catalog the database holds, at most ``interval()`` seconds old."""
        depth = getattr(self._depth, "n", 0)
        if depth == 0:
            self._follow()
            with self._gate:
                while self._reloading:
                    self._gate.wait()
                self._users += 1
        self._depth.n = depth + 1
        try:
            yield
        finally:
            self._depth.n = depth
            if depth == 0:
                with self._gate:
                    self._users -= 1
                    self._gate.notify_all()

    def _follow(self) -> None:
        """Reload the catalog when the database's version moved on since the last reload."""
        interval = self._interval()
        if time.monotonic() - self.checked < interval:
            return
        with self._gate:
            while self._reloading:
                self._gate.wait()
            if time.monotonic() - self.checked < interval:
                return
            self.checked = time.monotonic()
            version = self._version()
            if version == self.version:
                return
            self._reloading = True
            while self._users:
                self._gate.wait()
        try:
            log.info("the catalog changed (version %d, this worker had %d): reloading it", version, self.version)
            self._reload()
        finally:
            with self._gate:
                self._reloading = False
                self._gate.notify_all()
