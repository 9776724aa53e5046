"""The live alert stream's reader: every committed transition once, even out of id order.

On PostgreSQL a transition's id comes from a sequence when it is inserted, and
writers in different processes (ingest partitions, API processes acknowledging)
commit in any order: id 5 can be visible while id 4 is still uncommitted. A reader
that moved its cursor to 5 would never see 4. So the feed keeps its cursor below
the first gap and remembers the ids above it that it has already sent; a gap that
stays open for ``gap_wait_s`` is an id that was never committed (a rolled-back
transaction consumes one too), and the cursor moves past it. On SQLite there is one
writer at a time, ids commit in order, and the cursor simply follows them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from alerts.board import AlertBoard
from alerts.model import Alert, Transition


class TransitionFeed:
    def __init__(
        self,
        board: AlertBoard,
        after: int,
        *,
        gap_wait_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.board = board
        self.after = after  # every id at or below it was sent or will never exist
        self.gap_wait_s = gap_wait_s
        self._clock = clock
        self._sent: set[int] = set()  # ids above ``after`` already sent
        self._gap_since: float | None = None

    def poll(self) -> list[tuple[Transition, Alert]]:
        """Transitions committed since the last poll that were not sent yet."""
        found = self.board.transitions_after(self.after)
        new = [(t, a) for t, a in found if t.id not in self._sent]
        self._sent.update(t.id for t, _ in new)
        self._advance()
        return new

    def _advance(self) -> None:
        while self._sent:
            following = self.after + 1
            if following in self._sent:
                self._sent.remove(following)
                self.after = following
                self._gap_since = None
                continue
            now = self._clock()
            if self._gap_since is None:
                self._gap_since = now
            if now - self._gap_since < self.gap_wait_s:
                return
            self.after = min(self._sent) - 1  # the missing ids were never committed
            self._gap_since = None
