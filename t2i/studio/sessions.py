"""Which Generate request of a browser session is the newest: the page's on-load Generate (the default caption
and model, slow while the model loads) must not overwrite a result the user asked for after it."""
from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from typing import Hashable


class NewestRequest:
    """start(session) hands out increasing tickets and remembers each session's last one; is_newest(session, ticket)
    says whether no request of that session started since. Keeps the last `max_sessions` sessions."""

    def __init__(self, max_sessions: int = 10_000):
        self._last: OrderedDict[Hashable, int] = OrderedDict()
        self._tickets = itertools.count(1)
        self._lock = threading.Lock()
        self.max_sessions = max_sessions

    def start(self, session: Hashable) -> int:
        with self._lock:
            ticket = next(self._tickets)
            self._last[session] = ticket
            self._last.move_to_end(session)
            while len(self._last) > self.max_sessions:
                self._last.popitem(last=False)
            return ticket

    def is_newest(self, session: Hashable, ticket: int) -> bool:
        with self._lock:
            return self._last.get(session, ticket) == ticket
