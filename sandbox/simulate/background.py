"""The simulator on a thread of another command (``pantau demo``): no second start-up.

Takes the same arguments as ``pantau simulate`` (without ``--register``: the caller
registers the fleet first), publishes the backfill, then publishes live until
:attr:`stop` is set. The progress line goes to ``log``. An exception ends the
thread and is kept in :attr:`error` for the caller to report.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from pantau.settings import Settings


class BackgroundSimulation(threading.Thread):
    """The simulator in this process (no second start-up): backfill, then live readings."""

    def __init__(self, settings: Settings, argv: list[str], log: Path, *, url: str) -> None:
        super().__init__(name="simulate", daemon=True)
        from sandbox.simulate import commands as sim
        from sandbox.simulate.signals import Signals

        parser = argparse.ArgumentParser()
        sim.register(parser.add_subparsers())
        self.args = parser.parse_args(argv)
        self.args.url = url
        self.settings = settings
        self.scenario = sim.scenario_from(self.args)
        self.fleet = sim.fleet_from(self.args, self.scenario)
        self.anchor = int(time.time() * 1000)
        self.signals = Signals(
            self.fleet, self.scenario, seed=self.args.seed, anchor_ms=self.anchor
        )
        self.log = log
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from sandbox.simulate.commands import PoolSink, pool_from
        from sandbox.simulate.progress import Progress
        from sandbox.simulate.runner import Simulator

        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as out:
            try:
                pool = pool_from(self.args, self.settings, self.fleet)
                pool.start()
                progress = Progress(lambda: pool.counters, devices=len(self.fleet), stream=out)
                a = self.args
                sim = Simulator(
                    self.fleet, self.signals, form=a.pack, pack=a.pack_size, rate=a.rate,
                    progress=progress,
                )  # fmt: skip
                sink = PoolSink(pool, self.fleet)
                sim.backfill(sink, hours=a.backfill, step_s=a.backfill_step, end_ms=self.anchor)
                pool.drain(timeout=120)
                out.write(f"backfill done: {sim.readings_sent} readings\n")
                out.flush()
                sim.live(sink, duration_s=None, stop=self.stop)
                pool.drain(timeout=10)
                progress.finish()
                pool.close()
            except Exception as exc:  # reported by the demo's liveness check
                self.error = exc
                out.write(f"simulator failed: {type(exc).__name__}: {exc}\n")
