"""The policy-file watcher behind `Engine.watch` / `Engine.load(..., watch=True)`: it cannot miss an edit.

The baseline file stamps are taken before `start()` returns, and `start()` then compares the files'
content with what the engine compiled (the source digest): an edit made after the load read a file
but before the baseline is caught by the digest, one made after the baseline by the stamps. On every
change the stamps are taken before the reload reads the files, so an edit during a reload is seen by
the next poll.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from railguard._internal import internal_error
from railguard.errors import PolicyError

Stamps = dict[str, tuple[int, int]]
_MISSING = (-1, -1)
_UNSEEN = (-2, -2)  # a file first included by a reload: polled once more, then stamped


class PolicyWatcher(threading.Thread):
    def __init__(
        self,
        files: Callable[[], Sequence[str]],
        changed_since_load: Callable[[], bool],
        reload: Callable[[], object],
        *,
        interval: float,
        stop: threading.Event,
    ) -> None:
        super().__init__(name="railguard-policy-watch", daemon=True)
        self._files = files
        self._changed_since_load = changed_since_load
        self._reload = reload
        self._interval = interval
        self._stop_event = stop
        self._seen: Stamps = {}

    def start(self) -> None:
        """Baseline first, then catch up with an edit made since the load, then poll."""
        self._seen = self._stamps()
        if self._changed_since_load():
            self._reload_safely(self._seen)
        super().start()

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            self.poll()

    def poll(self) -> bool:
        """Reload when a file changed since the last look; True when it did."""
        now = self._stamps()
        if now == self._seen:
            return False
        self._reload_safely(now)
        return True

    def _reload_safely(self, stamped_before: Stamps) -> None:
        try:
            self._reload()
        except Exception as err:  # the engine keeps serving its last good policy
            internal_error("policy.reload", err, expected=isinstance(err, PolicyError | OSError))
        self._seen = {f: stamped_before.get(f, _UNSEEN) for f in self._files()}

    def _stamps(self) -> Stamps:
        out: Stamps = {}
        for f in self._files():
            try:
                st = Path(f).stat()
                out[f] = (st.st_mtime_ns, st.st_size)
            except OSError:
                out[f] = _MISSING
        return out
