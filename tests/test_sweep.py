"""The end-of-session sweep finds and kills what a test left running, and nothing else."""

from __future__ import annotations

import os
import subprocess
import uuid

from tests.sweep import MARKER, marked, sweep


def test_a_process_left_in_its_own_session_is_found_and_killed() -> None:
    run_id = uuid.uuid4().hex
    left = subprocess.Popen(
        ["sleep", "60"], env={**os.environ, MARKER: run_id}, start_new_session=True
    )
    other = subprocess.Popen(["sleep", "60"], env={**os.environ, MARKER: "another-run"})
    try:
        assert marked(run_id) == [left.pid]
        assert sweep(run_id) == [left.pid]
        assert left.wait(timeout=5) == -9
        assert other.poll() is None  # another run's process is not touched
    finally:
        for process in (left, other):
            process.kill()
            process.wait()


def test_this_session_marks_its_children() -> None:
    assert os.environ.get(MARKER)
    child = subprocess.Popen(["sleep", "60"])
    try:
        assert child.pid in marked(os.environ[MARKER])
    finally:
        child.kill()
        child.wait()
