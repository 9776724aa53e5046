"""The live stream's feed sends every committed transition once, even when ids commit
out of order (PostgreSQL, several writers), and moves past ids that never commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from alerts.board import AlertBoard
from api.transitionfeed import TransitionFeed


@dataclass(frozen=True)
class T:
    id: int


class Board:
    """Committed transition ids, as ``AlertBoard.transitions_after`` returns them."""

    def __init__(self) -> None:
        self.committed: set[int] = set()

    def transitions_after(self, after_id: int, *, limit: int = 500) -> list[tuple[Any, Any]]:
        return [(T(i), None) for i in sorted(self.committed) if i > after_id][:limit]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def ids(found: list[tuple[Any, Any]]) -> list[int]:
    return [t.id for t, _ in found]


def test_a_late_commit_below_the_cursor_is_still_sent() -> None:
    board, clock = Board(), Clock()
    feed = TransitionFeed(cast(AlertBoard, board), 0, gap_wait_s=10, clock=clock)
    board.committed |= {1, 2, 3, 5}  # 4 is inserted but not yet committed
    assert ids(feed.poll()) == [1, 2, 3, 5]
    assert feed.after == 3
    assert ids(feed.poll()) == []  # 5 is not sent twice
    board.committed.add(4)
    clock.now = 2
    assert ids(feed.poll()) == [4]
    assert feed.after == 5


def test_an_id_that_never_commits_is_given_up_after_the_wait() -> None:
    board, clock = Board(), Clock()
    feed = TransitionFeed(cast(AlertBoard, board), 10, gap_wait_s=10, clock=clock)
    board.committed |= {11, 14, 15}  # 12 and 13 were rolled back
    assert ids(feed.poll()) == [11, 14, 15]
    clock.now = 9
    assert ids(feed.poll()) == [] and feed.after == 11
    clock.now = 10.5
    board.committed.add(16)
    assert ids(feed.poll()) == [16]
    assert feed.after == 16


def test_in_order_commits_move_the_cursor_at_once() -> None:
    board = Board()
    feed = TransitionFeed(cast(AlertBoard, board), 0)
    for n in range(1, 4):
        board.committed.add(n)
        assert ids(feed.poll()) == [n] and feed.after == n
