"""The firmware bridge's figures: decode rate, durable queueing, backlog drain.

``python -m bench.bridge [--quick]`` (or ``python bench/bridge.py``; about 40 s, ``--quick``
about 10 s with shorter runs and smaller backlogs) prints
three tables and saves ``bench/results/bridge.json``:

1. **decode** — each driver's real (captured or vector) frames repeated into one byte
   stream with a little line noise between frames, split into 64-byte reads as a serial
   port delivers them, pushed through the driver's framer and decoder; frames per
   wall-clock second and per CPU second (the CPU figure is the one to compare between
   runs on a busy machine);
2. **queue** — readings appended to the store-and-forward queue (SQLite WAL,
   ``synchronous=FULL``: each append is on disk before it returns) per second;
3. **drain** — a backlog of queued readings published through a real Mosquitto (started
   on a free loopback port) by the bridge's forwarder with QoS 1, waiting for each
   PUBACK, as backlog arrays of 100 and one reading per message; a subscriber checks that
   every reading arrived once, in order.

The load average at the start is saved with the figures: on a shared machine they scale
with the CPU the benchmark actually got.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from firmware_bridge.drivers import DRIVERS  # noqa: E402
from firmware_bridge.forwarder import DeviceForwarder  # noqa: E402
from firmware_bridge.framing import Frame  # noqa: E402
from firmware_bridge.options import Options  # noqa: E402
from firmware_bridge.store import ForwardQueue  # noqa: E402
from pantau.mqtt import Publisher  # noqa: E402
from pantau.services import Mosquitto, free_port  # noqa: E402

CAPTURES = ROOT / "tests" / "data" / "serial" / "pypms_captured_data"
RESULTS = ROOT / "bench" / "results" / "bridge.json"
SECONDS_PER_DRIVER = 1.5


def captured(sensor: str) -> list[bytes]:
    lines = (CAPTURES / f"{sensor}.hexdump").read_text().splitlines()
    return [bytes.fromhex(line.split(": ", 1)[1].split("  ")[0]) for line in lines if line]


def cases() -> dict[str, tuple[dict[str, object], list[bytes]]]:
    return {
        "plantower": ({}, captured("PMSx003")),
        "sds011": ({}, captured("SDS01x")),
        "mhz19": ({}, captured("MHZ19B")),
        "hpma115": ({}, captured("HPMA115C0")),
        "sps30": ({}, captured("SPS30")),
        "mcu680": ({}, captured("MCU680")),
        "maxbotix": ({"mounting_height_cm": 500.0}, [b"R2257\r", b"R1830\r", b"R4012\r"]),
        "sdi12": ({}, [b"0+3.14OqZ\r\n", b"0+100.050+25.000+0EPi\r\n"]),
        "rg15": (
            {},
            [
                b"Acc  0.00 mm, EventAcc  0.00 mm, TotalAcc  1.23 mm, RInt  0.00 mmph\r\n",
                b"Acc  0.00 mm, EventAcc  0.58 mm, TotalAcc  0.58 mm, RInt  0.00 mmph\r\n",
            ],
        ),
        "modbus": (
            {"register": 0, "metric": "water_level", "scale": 0.1},
            [
                bytes.fromhex("010302005638 7a".replace(" ", "")),
                bytes.fromhex("0103020006 3846".replace(" ", "")),
            ],
        ),
    }


def measure(
    name: str, options: dict[str, object], frames: list[bytes], seconds: float
) -> dict[str, float]:
    driver = DRIVERS[name](Options(options, "bench"))
    noise = b"\x00"  # before every frame: every framer resynchronises past it
    stream = b"".join(noise + f for f in frames) * max(1, 20_000 // sum(map(len, frames)))
    chunks = [stream[i : i + 64] for i in range(0, len(stream), 64)]
    decode: Callable[[bytes], object] = driver.decode
    decoded = 0
    rounds = 0
    start = time.perf_counter()
    cpu_start = time.process_time()
    while time.perf_counter() - start < seconds:
        framer = driver.make_framer()
        for chunk in chunks:
            for event in framer.feed(chunk):
                if isinstance(event, Frame):
                    decode(event.data)
                    decoded += 1
        rounds += 1
    elapsed = time.perf_counter() - start
    cpu = max(time.process_time() - cpu_start, 1e-9)
    return {
        "frames_per_s": decoded / elapsed,
        "frames_per_cpu_s": decoded / cpu,
        "bytes_per_s": rounds * len(stream) / elapsed,
        "frames": decoded,
    }


def measure_queue(directory: Path, seconds: float = 2.0) -> dict[str, float]:
    """Durable appends per second (each committed with fsync before append returns)."""
    store = ForwardQueue(directory / "queue.sqlite3", max_readings=1_000_000)
    values = {"pm25": 41.2, "pm10": 77.9}
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        store.append("aq-bench", 1_763_800_000_000 + count, values)
        count += 1
    elapsed = time.perf_counter() - start
    store.close()
    return {"appends_per_s": count / elapsed, "ms_per_append": elapsed / count * 1000}


class Counter:
    """A plain subscriber: every reading's seq, in arrival order."""

    def __init__(self, port: int, topic: str) -> None:
        self.seqs: list[int] = []
        self.lock = threading.Lock()
        self.topic = topic
        self.subscribed = threading.Event()
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError("the bench subscriber could not subscribe")

    def _on_connect(self, client: paho.Client, *_args: object) -> None:
        client.subscribe(self.topic, qos=1)

    def _on_message(self, _c: object, _u: object, message: Any) -> None:
        doc = json.loads(message.payload)
        with self.lock:
            self.seqs += [r["seq"] for r in (doc if isinstance(doc, list) else [doc])]

    def count(self) -> int:
        with self.lock:
            return len(self.seqs)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def measure_drain(directory: Path, port: int, readings: int, batch: int) -> dict[str, float]:
    device = f"aq-drain-{batch}"
    store = ForwardQueue(directory / f"drain-{batch}.sqlite3", max_readings=1_000_000)
    for i in range(readings):
        store.append(device, 1_763_800_000_000 + i * 1000, {"pm25": float(i % 500)})
    counter = Counter(port, f"sensors/{device}/readings")
    publisher = Publisher(url=f"mqtt://127.0.0.1:{port}", client_id=f"bench-{device}")
    forwarder = DeviceForwarder(
        device_id=device, store=store, publisher=publisher, firmware="bench", batch=batch
    )
    start = time.perf_counter()
    forwarder.start()
    deadline = start + 300
    while store.pending(device) and time.perf_counter() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    while counter.count() < readings and time.perf_counter() < deadline:
        time.sleep(0.01)
    forwarder.stop()
    counter.close()
    store.close()
    complete = counter.seqs[:readings] == list(range(1, readings + 1))
    return {
        "readings": readings,
        "batch": batch,
        "seconds": elapsed,
        "readings_per_s": readings / elapsed,
        "messages": forwarder.messages,
        "complete_in_order": complete,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, smaller backlogs")
    args = parser.parse_args()
    seconds = 0.3 if args.quick else SECONDS_PER_DRIVER
    backlog, singles = (2_000, 200) if args.quick else (10_000, 1_000)
    load = os.getloadavg()[0]
    print(f"load average {load:.2f} on {os.cpu_count()} core(s)")
    results = {name: measure(name, *case, seconds) for name, case in cases().items()}
    print(f"{'driver':<10} {'frames/s':>10} {'frames/CPU-s':>13} {'MB/s':>6}")
    for name, r in results.items():
        print(
            f"{name:<10} {r['frames_per_s']:>10,.0f} {r['frames_per_cpu_s']:>13,.0f} "
            f"{r['bytes_per_s'] / 1e6:>6.2f}"
        )
    with tempfile.TemporaryDirectory(prefix="pantau-bench-bridge-") as tmp:
        directory = Path(tmp)
        queue_figures = measure_queue(directory, 0.5 if args.quick else 2.0)
        print(
            f"queue: {queue_figures['appends_per_s']:,.0f} durable appends/s "
            f"({queue_figures['ms_per_append']:.2f} ms each)"
        )
        broker = Mosquitto(directory / "mosquitto", free_port())
        broker.start()
        try:
            drains = [
                measure_drain(directory, broker.port, backlog, 100),
                measure_drain(directory, broker.port, singles, 1),
            ]
        finally:
            broker.stop()
    for d in drains:
        print(
            f"drain: {d['readings']:,} readings in messages of {d['batch']}: "
            f"{d['seconds']:.2f} s, {d['readings_per_s']:,.0f} readings/s, "
            f"complete and in order: {d['complete_in_order']}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cores": os.cpu_count(),
                "load_average_1m": load,
                "quick": args.quick,
                "seconds_per_driver": seconds,
                "drivers": results,
                "queue": queue_figures,
                "drain": drains,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"saved {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
