"""Ingest end to end: ``pantau ingest`` against a bare paho subscriber and a naive bridge.

Everything runs in one go on real Mosquitto and InfluxDB started here on free
loopback ports, so the ratios compare like with like on the same (noisy) machine:

- **bare**: a paho-mqtt subscriber that only counts and acknowledges, draining a
  backlog of QoS 1 messages the broker holds for its persistent session;
- **pantau**: ``pantau ingest`` (spool with fsync, pipeline, InfluxDB) draining the
  same backlog until every reading is in InfluxDB; one reading per message;
- **pantau, packs**: the same with 100-reading arrays per message (readings/s),
  in ``--rounds`` rounds (default 3) alternating with *InfluxDB alone*; the median
  round of each is reported, with every round's figure (one round moves with the
  load the machine's neighbours put on it, by up to 1.5× and more: the cores the
  hypervisor stole meanwhile, from /proc/stat, are reported with each run);
- **naive**: one InfluxDB ``/write`` per message, the way small MQTT→InfluxDB
  bridges do it;
- **InfluxDB alone**: the lines ``pantau ingest`` writes for the packs (readings,
  aggregates, ISPU), encoded beforehand and written straight to InfluxDB the way
  ingest writes them (5 000-line requests, two at a time): the ceiling the packs
  run can reach on this machine, and InfluxDB's CPU time per point;
- **live**: a publisher and ``pantau ingest`` running at the same time;
- **outage**: InfluxDB stopped while messages arrive at a steady rate, then
  started: peak memory of both ingest processes (the backlog is on disk) and the
  time to drain.

Preloading the backlog keeps the publisher from competing for the cores while a
consumer is timed. The ``pantau`` runs are timed from the receiving process's
subscription, as the bare subscriber from its connection (the receiving process
subscribes once the processing process is ready, so start-up is excluded for both).
Every run counts the points in InfluxDB at the end: the figures are
only reported with zero loss, otherwise the run fails.

Run: ``python -m bench.ingest`` (about 4 minutes; ``--quick`` for a smoke run;
``--packs-only`` for the packs rounds and InfluxDB alone, nothing saved;
``--drains-only`` for those and the one-reading drain, nothing saved;
``--against PANTAU_NAME=value[,…]`` for packs drains alternating the default
settings and those, e.g. ``--against PANTAU_INFLUX_PARALLEL_WRITES=4 --rounds 4``,
nothing saved).
Prints a table and writes ``bench/results/ingest.json``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

import httpx
import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bench.machine import save_results
from bench.proc import cpu_seconds, host_cpu_seconds, memory_kib
from devices.cache import load_snapshot
from ingest.directory import RegistryDirectory
from ingest.record import encode_message
from ingest.spool import Record
from pantau import database
from pantau.services import InfluxDB, Mosquitto, free_port
from pantau.settings import Settings
from pantau.store import InfluxStore, quote_string
from tests.harness import IngestProcess, TestPublisher, count_points, register
from tests.ingest.processors import new_processor

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "ingest.json"
DEVICES = 1000
WRITE_CHUNK = 20_000  # lines per write of InfluxDB alone: about a worker chunk's share of a round
TOPIC = "sensors/{}/readings"
NO_SETTINGS: Mapping[str, str] = MappingProxyType({})


@dataclass
class Env:
    tmp: Path
    broker: Mosquitto
    influxd: InfluxDB
    sql_url: str

    def store(self, db: str) -> InfluxStore:
        return InfluxStore(url=self.influxd.url, database=db, timeout=120)


def device(i: int) -> str:
    return f"bench-{i % DEVICES:04d}"


def single_messages(n: int, start_ms: int) -> Iterator[tuple[str, bytes]]:
    """``n`` one-reading messages, spread over the devices, one second apart per device."""
    for i in range(n):
        ts = start_ms + (i // DEVICES) * 1000
        body = orjson.dumps({"ts": ts, "seq": i // DEVICES, "values": {"pm25": 20 + i % 37}})
        yield TOPIC.format(device(i)), body


def pack_messages(n: int, size: int, start_ms: int) -> Iterator[tuple[str, bytes]]:
    """``n`` messages of ``size`` readings each (the array form a backlog is sent in)."""
    for i in range(n):
        base = (i // DEVICES) * size
        pack = [
            {"ts": start_ms + (base + k) * 1000, "seq": base + k, "values": {"pm25": 20 + k % 37}}
            for k in range(size)
        ]
        yield TOPIC.format(device(i)), orjson.dumps(pack)


def spooled(messages: Iterable[tuple[str, bytes]], received_ns: int) -> list[Record]:
    """The messages as the receiving process spools them, one record each."""
    return [
        Record(encode_message(received_ns, topic, payload), 0, i, i + 1)
        for i, (topic, payload) in enumerate(messages)
    ]


def make_session(url: str, client_id: str, topic: str) -> None:
    """Create a persistent session subscribed at QoS 1, then leave: the broker keeps the backlog."""
    host, port = url.removeprefix("mqtt://").split(":")
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    done = threading.Event()
    client.on_subscribe = lambda *_: done.set()
    client.connect(host, int(port))
    client.loop_start()
    client.subscribe(topic, qos=1)
    if not done.wait(10):
        raise RuntimeError("the broker did not confirm the subscription")
    client.disconnect()
    client.loop_stop()


def preload(url: str, messages: Iterator[tuple[str, bytes]]) -> tuple[int, float, Last]:
    """Publish every message (QoS 1, each acknowledged); remember the last reading sent."""
    last: list[tuple[str, bytes]] = []

    def remember() -> Iterator[tuple[str, bytes]]:
        for item in messages:
            last[:] = [item]
            yield item

    publisher = TestPublisher(url)
    started = time.perf_counter()
    count = publisher.publish_many(remember())
    elapsed = time.perf_counter() - started
    publisher.close()
    topic, body = last[0]
    doc = orjson.loads(body)
    reading = doc[-1] if isinstance(doc, list) else doc
    return count, elapsed, Last(topic.split("/")[1], int(reading["ts"]) * 1_000_000)


@dataclass(frozen=True)
class Last:
    """The last reading published: once it is in InfluxDB, all before it are (spool order)."""

    device: str
    ts_ns: int


def wait_points(store: InfluxStore, expected: int, last: Last, timeout: float) -> float:
    """perf_counter time when every reading is in InfluxDB (checked by counting them).

    Polling for the last point is cheap, where counting everything would load
    InfluxDB while it is being measured; the count follows once the last point is
    there. A chunk is written in several requests at once, so the last point can
    arrive a moment before the others of its chunk: the count is repeated until it
    is complete (more than expected, or still short after 30 s, fails the run).
    """
    deadline = time.perf_counter() + timeout
    query = (
        f'SELECT "raw" FROM "readings" WHERE "device" = {quote_string(last.device)} '
        f"AND time = {last.ts_ns}"
    )
    while not any(series.values for series in store.query(query)):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the last reading did not reach InfluxDB in {timeout:.0f} s")
        time.sleep(0.05)
    finished = time.perf_counter()
    complete_by = finished + 30
    while (got := count_points(store)) < expected and time.perf_counter() < complete_by:
        time.sleep(0.05)
        finished = time.perf_counter()  # (a count's own time is counted: rare, conservative)
    if got != expected:
        raise RuntimeError(f"{got} readings in InfluxDB where {expected} were sent")
    return finished


def progress(text: str) -> None:
    print(f"  … {text}", flush=True)


# ---- the consumers --------------------------------------------------------------------------


def drain_with_paho(
    env: Env, name: str, n: int, handle: Callable[[paho.MQTTMessage], None]
) -> dict[str, float]:
    """A plain paho subscriber (auto-acknowledging) draining a backlog of ``n`` messages,
    calling ``handle`` on each; timed from connect to the last message handled."""
    client_id = f"{name}-{uuid.uuid4().hex[:6]}"
    make_session(env.broker.url, client_id, "sensors/+/readings")
    sent, _, _ = preload(env.broker.url, single_messages(n, now_ms() - 3_600_000))
    host, port = env.broker.url.removeprefix("mqtt://").split(":")
    handled = 0
    done = threading.Event()

    def on_message(_c: object, _u: object, msg: paho.MQTTMessage) -> None:
        nonlocal handled
        handle(msg)
        handled += 1
        if handled >= sent:
            done.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_message = on_message
    started = time.perf_counter()
    client.connect(host, int(port))
    client.loop_start()
    if not done.wait(600):
        raise RuntimeError(f"{name}: {handled} of {sent} messages handled")
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return {"messages": sent, "seconds": elapsed, "messages_per_s": sent / elapsed}


def pack_lines(env: Env, n: int, size: int, start_ms: int) -> list[str]:
    """What ``pantau ingest`` writes for ``pack_messages(n, size, start_ms)``: the same
    messages through ingest's own Processor (decode, pipeline, line protocol, aggregates
    coalesced), in the worker's chunks; nothing is written."""
    engine = database.open_engine(env.sql_url)
    directory = RegistryDirectory(load_snapshot(engine))
    processor = new_processor(engine, lambda: directory)
    records = spooled(pack_messages(n, size, start_ms), time.time_ns())
    fields = Settings.model_fields  # chunks as the worker reads them
    per_chunk = fields["ingest_batch_messages"].default
    chunk_bytes = fields["ingest_batch_bytes"].default
    lines: list[str] = []
    first = 0
    while first < len(records):
        stop, room = first, chunk_bytes
        while stop < len(records) and stop - first < per_chunk and room > 0:
            room -= len(records[stop].body)
            stop += 1
        lines += processor.prepare(records[first:stop], flush=False).lines
        first = stop
    engine.dispose()
    return lines + processor.take_derived()


def measured_write(store: InfluxStore, pid: int, lines: list[str]) -> tuple[float, float]:
    """Write ``lines`` (every one must be accepted): the CPU seconds InfluxDB (``pid``)
    spent meanwhile, and the seconds it took."""
    cpu0, started = cpu_seconds(pid), time.perf_counter()
    result = store.write(lines)
    if result.rejected:
        raise RuntimeError(f"InfluxDB rejected {len(result.rejected)} lines")
    return cpu_seconds(pid) - cpu0, time.perf_counter() - started


def run_influx_alone(env: Env, packs: int) -> dict[str, float]:
    """The packs' lines written straight to InfluxDB: the ceiling for the packs run."""
    lines = pack_lines(env, packs, 100, now_ms() - 2 * 86_400_000)
    store = env.store(f"bench_alone_{uuid.uuid4().hex[:6]}")
    store.ensure_database()
    pid = env.influxd.pid()
    assert pid is not None
    cpu = elapsed = 0.0
    host_before = host_cpu_seconds()
    for first in range(0, len(lines), WRITE_CHUNK):
        chunk_cpu, chunk_seconds = measured_write(store, pid, lines[first : first + WRITE_CHUNK])
        cpu, elapsed = cpu + chunk_cpu, elapsed + chunk_seconds
    host = host_cores(host_before, host_cpu_seconds(), elapsed)
    store.close()
    return {
        "points": len(lines),
        "readings": packs * 100,
        "seconds": elapsed,
        "points_per_s": len(lines) / elapsed,
        "readings_per_s": packs * 100 / elapsed,
        "influxd_cpu_us_per_point": cpu / len(lines) * 1e6,
        "influxd_cores": cpu / elapsed,
        **host,
    }


def run_bare(env: Env, n: int) -> dict[str, float]:
    """A paho subscriber that counts and acknowledges, nothing else."""
    return drain_with_paho(env, "bare", n, lambda _msg: None)


def ingest_process(
    env: Env, name: str, settings: Mapping[str, str] = NO_SETTINGS
) -> tuple[IngestProcess, InfluxStore]:
    db = f"bench_{name}_{uuid.uuid4().hex[:6]}"
    store = env.store(db)
    store.ensure_database()
    process = IngestProcess(
        home=env.tmp / name,
        mqtt_url=env.broker.url,
        influx=store,
        sql_url=env.sql_url,
        extra_env={"PANTAU_INGEST_FLUSH_MS": "20", **settings},
    )
    return process, store


def run_pantau_backlog(
    env: Env,
    name: str,
    messages: Iterator[tuple[str, bytes]],
    readings: int,
    settings: Mapping[str, str] = NO_SETTINGS,
) -> dict[str, float]:
    """``pantau ingest`` (with ``settings``, ``PANTAU_*`` variables) drains a preloaded
    backlog into InfluxDB."""
    process, store = ingest_process(env, name, settings)
    process.start()  # creates the persistent session
    process.stop()
    sent, publish_s, last = preload(env.broker.url, messages)
    progress(f"{name}: {sent} messages preloaded in {publish_s:.1f} s; draining")
    process.start(timeout=60)  # returns once subscribed: start-up excluded, as for bare
    assert process.process is not None
    cpu_before, host_before = cpu_by_process(env, process.process.pid), host_cpu_seconds()
    started = time.perf_counter()
    finished = wait_points(store, readings, last, timeout=600)
    elapsed = finished - started
    cpu_after, host_after = cpu_by_process(env, process.process.pid), host_cpu_seconds()
    process.stop()
    spent = {name: cpu - cpu_before.get(name, 0.0) for name, cpu in cpu_after.items()}
    stages = stage_report(process.log_path)
    points = stages.pop("points", 0.0) or readings
    chunks = stages.pop("chunks", 0.0)
    return {
        "messages": sent,
        "readings": readings,
        "seconds": elapsed,
        "messages_per_s": sent / elapsed,
        "readings_per_s": readings / elapsed,
        "lost": 0,
        # cores busy: each process's CPU time during the drain / the drain's time
        **{f"cores_{name}": cpu / elapsed for name, cpu in spent.items()},
        **host_cores(host_before, host_after, elapsed),
        **cpu_per_reading(spent, readings, points),
        "chunks": chunks,  # chunks the processing process prepared
        **{f"stage_us_{name}": us for name, us in stages.items()},
    }


def cpu_per_reading(spent: dict[str, float], readings: int, points: float) -> dict[str, float]:
    """CPU µs per reading of both ingest processes (during the drain) and of InfluxDB per
    point it stored meanwhile (readings plus aggregate and derived points), and their
    ratio: what the issue's targets compare."""
    receiving = spent.get("ingest_receiving", 0.0) / readings * 1e6
    processing = spent.get("ingest_processing", 0.0) / readings * 1e6
    influx = spent.get("influxdb", 0.0) / points * 1e6
    return {
        "points": points,
        "pantau_cpu_us_per_reading": receiving + processing,
        "receiving_cpu_us_per_reading": receiving,
        "processing_cpu_us_per_reading": processing,
        "influxd_cpu_us_per_point": influx,
        "pantau_to_influxd_cpu": (receiving + processing) / influx if influx else float("nan"),
    }


_STAGES = re.compile(
    r"stage CPU seconds (\{.*?\}) over (\d+) readings, (\d+) points written(?:, (\d+) chunks)?"
)


def stage_report(log_path: Path) -> dict[str, float]:
    """The processing process's CPU by stage in µs per reading (its last report, logged
    when it stops: the whole run, start-up aside), and the points it wrote."""
    found = _STAGES.findall(log_path.read_text(errors="replace"))
    if not found:
        return {}
    seconds, readings, points, chunks = found[-1]
    if not int(readings):
        return {}
    per = {k: v / int(readings) * 1e6 for k, v in orjson.loads(seconds).items()}
    return {**per, "points": float(points), "chunks": float(chunks or 0)}


def host_cores(
    before: dict[str, float], after: dict[str, float], elapsed: float
) -> dict[str, float]:
    """The machine's cores idle and stolen by the hypervisor over ``elapsed`` seconds
    (``cores_host_steal`` tells a run slowed by a busy host from one slowed by the code)."""
    return {
        f"cores_host_{kind}": (after[kind] - before[kind]) / elapsed for kind in ("idle", "steal")
    }


def cpu_by_process(env: Env, ingest_pid: int) -> dict[str, float]:
    """CPU seconds so far of InfluxDB, Mosquitto and both ingest processes (the
    processing one may not have started yet)."""
    receiving, *processing = ingest_pids(ingest_pid)
    pids = {
        "influxdb": env.influxd.pid(),
        "mosquitto": env.broker.pid(),
        "ingest_receiving": receiving,
        "ingest_processing": processing[0] if processing else None,
    }
    return {name: cpu_seconds(pid) for name, pid in pids.items() if pid is not None}


def run_live(env: Env, n: int) -> dict[str, float]:
    """Publisher and ``pantau ingest`` at the same time, as in production."""
    process, store = ingest_process(env, "live")
    process.start()
    started = time.perf_counter()
    sent, publish_s, last = preload(env.broker.url, single_messages(n, now_ms() - 3_600_000))
    finished = wait_points(store, n, last, timeout=600)
    elapsed = finished - started
    process.stop()
    return {
        "messages": sent,
        "publish_seconds": publish_s,
        "seconds": elapsed,
        "messages_per_s": sent / elapsed,
        "lost": 0,
    }


def run_naive(env: Env, n: int) -> dict[str, float]:
    """One InfluxDB write per message, in the MQTT callback."""
    db = f"bench_naive_{uuid.uuid4().hex[:6]}"
    env.store(db).ensure_database()
    with httpx.Client(base_url=env.influxd.url) as http:

        def write(msg: paho.MQTTMessage) -> None:
            doc = orjson.loads(msg.payload)
            device = msg.topic.split("/")[1]
            fields = ",".join(f"{k}={float(v)}" for k, v in doc["values"].items())
            line = f"readings,device={device},metric=pm25 raw={doc['values']['pm25']},{fields}"
            http.post(
                "/write", params={"db": db, "precision": "ms"}, content=f"{line} {doc['ts']}"
            ).raise_for_status()

        return drain_with_paho(env, "naive", n, write)


def rss_kib(pid: int) -> int:
    try:
        return memory_kib(pid).get("VmRSS", 0)
    except OSError:  # gone meanwhile
        return 0


def ingest_pids(root: int) -> list[int]:
    """The receiving process and its children (the processing worker)."""
    pids = [root]
    try:
        children = Path(f"/proc/{root}/task/{root}/children").read_text().split()
    except OSError:
        children = []
    return pids + [int(c) for c in children]


def paced(messages: Iterator[tuple[str, bytes]], rate: float) -> Iterator[tuple[str, bytes]]:
    started = time.perf_counter()
    for i, item in enumerate(messages):
        ahead = started + i / rate - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
        yield item


def run_outage(env: Env, seconds: float, rate: float) -> dict[str, float]:
    """InfluxDB down while ``rate`` messages/s arrive for ``seconds``; then it comes back."""
    process, store = ingest_process(env, "outage")
    process.start()
    assert process.process is not None
    n = int(seconds * rate)
    env.influxd.stop()
    peak = {"receiver": 0, "worker": 0, "total": 0}
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            pids = ingest_pids(process.process.pid if process.process else 0)
            sizes = [rss_kib(p) for p in pids]
            peak["receiver"] = max(peak["receiver"], sizes[0])
            peak["worker"] = max(peak["worker"], sum(sizes[1:]))
            peak["total"] = max(peak["total"], sum(sizes))
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    progress(f"outage: InfluxDB stopped; publishing {n} messages at {rate:.0f}/s")
    sent, publish_s, last = preload(
        env.broker.url, paced(single_messages(n, now_ms() - 7_200_000), rate)
    )
    spool_bytes = sum(f.stat().st_size for f in (env.tmp / "outage" / "spool").glob("*.seg"))
    env.influxd.start()
    progress("outage: InfluxDB started again; draining the spool")
    back = time.perf_counter()
    finished = wait_points(store, n, last, timeout=600)
    sampling.set()
    sampler.join()
    process.stop()
    return {
        "messages": sent,
        "publish_seconds": publish_s,
        "spool_bytes_at_restart": spool_bytes,
        "drain_seconds": finished - back,
        "peak_rss_mib_receiver": peak["receiver"] / 1024,
        "peak_rss_mib_worker": peak["worker"] / 1024,
        "peak_rss_mib_total": peak["total"] / 1024,
        "lost": 0,
    }


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@contextmanager
def environment() -> Iterator[Env]:
    with tempfile.TemporaryDirectory(prefix="pantau-bench-") as tmp:
        root = Path(tmp)
        broker = Mosquitto(root / "mosquitto", free_port())
        influxd = InfluxDB(root / "influxdb", free_port())
        broker.start()
        influxd.start()
        sql_url = f"sqlite:///{root / 'pantau.db'}"
        database.upgrade(sql_url)
        register(sql_url, [device(i) for i in range(DEVICES)], metrics=("pm25",))
        try:
            yield Env(root, broker, influxd, sql_url)
        finally:
            influxd.stop()
            broker.stop()


def timed(name: str, run: Callable[[], dict[str, float]]) -> dict[str, float]:
    print(f"{name} …", flush=True)
    started = time.perf_counter()
    result = run()
    print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    return result


def report_packs(packs: dict[str, float], alone: dict[str, float]) -> None:
    print(
        "packs, cores busy while draining: "
        + ", ".join(
            f"{name.removeprefix('cores_')} {share:.2f}"
            for name, share in packs.items()
            if name.startswith("cores_")
        )
    )
    print(
        f"InfluxDB alone: {alone['points']:.0f} points (the packs' lines) in "
        f"{alone['seconds']:.1f} s = {alone['readings_per_s']:.0f} readings/s, "
        f"{alone['influxd_cpu_us_per_point']:.1f} µs influxd CPU per point, "
        f"{alone['influxd_cores']:.2f} cores busy, "
        f"{alone['cores_host_steal']:.2f} stolen by the host"
    )


def report_cpu(
    name: str, run: dict[str, float], target: float | None, alone: float | None = None
) -> None:
    """Pantau's CPU per reading against InfluxDB's per point, measured in the same drain
    (against ``target``, unless the verdict is given elsewhere: ``None``)."""
    stages = ", ".join(
        f"{k.removeprefix('stage_us_')} {v:.2f}"
        for k, v in run.items()
        if k.startswith("stage_us_")
    )
    also = f"; {alone:.2f} alone" if alone is not None else ""
    ratio = run["pantau_to_influxd_cpu"]
    print(
        f"{name}: Pantau {run['pantau_cpu_us_per_reading']:.2f} µs CPU per reading (receiving "
        f"{run['receiving_cpu_us_per_reading']:.2f} + processing "
        f"{run['processing_cpu_us_per_reading']:.2f}), InfluxDB "
        f"{run['influxd_cpu_us_per_point']:.2f} µs per point in the same drain{also}: "
        f"{ratio:.2f} ×"
        + (
            f" (target ≤ {target}: {'met' if ratio <= target else 'NOT met'})"
            if target is not None
            else ""
        )
    )
    if stages:
        print(
            f"  processing by stage, µs per reading: {stages} ({run.get('chunks', 0):.0f} chunks)"
        )


def packs_rounds(env: Env, packs: int, rounds: int) -> dict[str, Any]:
    """``rounds`` times the packs drain (each with its own ingest process and
    database), each followed by InfluxDB alone on the same lines; the median round
    of each, and every round's figures."""
    drains: list[dict[str, float]] = []
    alones: list[dict[str, float]] = []
    for n in range(1, rounds + 1):
        label = f" (round {n} of {rounds})" if rounds > 1 else ""
        messages = pack_messages(packs, 100, now_ms() - 86_400_000)
        drains.append(
            timed(
                f"pantau ingest, 100-reading packs{label}",
                partial(run_pantau_backlog, env, f"packs{n}", messages, packs * 100),
            )
        )
        alones.append(
            timed(f"InfluxDB alone, the packs' lines{label}", partial(run_influx_alone, env, packs))
        )
    return {
        "pantau_packs": median_round(drains),
        "influx_alone": median_round(alones),
        "rounds": {
            # the target's figure: each round's ratio is measured within that round's drain
            "pantau_to_influxd_cpu_median": statistics.median(
                r["pantau_to_influxd_cpu"] for r in drains
            ),
            "pantau_packs_readings_per_s_each": [r["readings_per_s"] for r in drains],
            "influx_alone_readings_per_s_each": [r["readings_per_s"] for r in alones],
            "influxd_cpu_us_per_point_each": [r["influxd_cpu_us_per_point"] for r in alones],
            "pantau_packs_cores_host_steal_each": [r["cores_host_steal"] for r in drains],
            "pantau_to_influxd_cpu_each": [r["pantau_to_influxd_cpu"] for r in drains],
        },
    }


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    """The round with the median readings/s (the lower middle one of an even count)."""
    ranked = sorted(rounds, key=lambda r: r["readings_per_s"])
    return ranked[(len(ranked) - 1) // 2]


def report_rounds(result: dict[str, Any]) -> None:
    each = result["rounds"]["pantau_packs_readings_per_s_each"]
    alone = result["rounds"]["influx_alone_readings_per_s_each"]
    packs = result["pantau_packs"]["readings_per_s"]
    print(
        f"packs {packs:.0f} readings/s, median of {len(each)} rounds "
        f"({', '.join(f'{x:.0f}' for x in each)}; target ≥ 150000), "
        f"{packs / result['influx_alone']['readings_per_s']:.2f} of InfluxDB alone "
        f"({', '.join(f'{x:.0f}' for x in alone)}); cores stolen by the host while draining: "
        f"{', '.join(f'{x:.2f}' for x in result['rounds']['pantau_packs_cores_host_steal_each'])}"
    )
    report_packs(result["pantau_packs"], result["influx_alone"])
    report_cpu(
        "packs (the median round)",
        result["pantau_packs"],
        None,
        alone=result["influx_alone"]["influxd_cpu_us_per_point"],
    )
    ratios = ", ".join(f"{x:.2f}" for x in result["rounds"]["pantau_to_influxd_cpu_each"])
    median = result["rounds"]["pantau_to_influxd_cpu_median"]
    verdict = "met" if median <= 0.5 else "NOT met"
    print(
        f"  Pantau/InfluxDB CPU in each round: {ratios}; median of rounds {median:.2f} "
        f"(target ≤ 0.5: {verdict})"
    )


def packs_only(packs: int, rounds: int) -> None:
    """The packs rounds and InfluxDB alone, nothing else (nothing saved): for comparing
    two versions of the code by alternating runs."""
    with environment() as env:
        report_rounds(packs_rounds(env, packs, rounds))


def drains_only(messages: int, packs: int, rounds: int) -> None:
    """The one-reading drain and the packs rounds with InfluxDB alone (nothing saved):
    the CPU figures of both targets, for comparing two versions of the code."""
    with environment() as env:
        single = timed(
            "pantau ingest, backlog",
            lambda: run_pantau_backlog(
                env, "single", single_messages(messages, now_ms() - 3_600_000), messages
            ),
        )
        report_rounds(packs_rounds(env, packs, rounds))
        report_cpu("one-reading messages", single, 1.0)


def parse_settings(text: str) -> dict[str, str]:
    """``"PANTAU_A=1,PANTAU_B=x"`` as a dict; anything else is an error that says so."""
    settings: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("PANTAU_"):
            raise ValueError(f"{item!r}: expected PANTAU_NAME=value")
        settings[name] = value
    if not settings:
        raise ValueError("no setting given: expected PANTAU_NAME=value[,…]")
    return settings


def compare_settings(packs: int, rounds: int, variant: Mapping[str, str]) -> None:
    """The packs drain with the default settings and with ``variant``, alternating (each
    goes first in every other round, so both see the same drift of a shared machine):
    the median and every round of each (nothing saved)."""
    sides: dict[str, Mapping[str, str]] = {"default": NO_SETTINGS, "variant": variant}
    drains: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    with environment() as env:
        for n in range(rounds):
            for side in list(sides) if n % 2 == 0 else list(sides)[::-1]:
                messages = pack_messages(packs, 100, now_ms() - 86_400_000)
                drain = partial(
                    run_pantau_backlog, env, f"{side}{n}", messages, packs * 100, sides[side]
                )
                label = f"packs, {side} settings (round {n + 1} of {rounds})"
                drains[side].append(timed(label, drain))
    for side, runs in drains.items():
        each = ", ".join(f"{r['readings_per_s']:.0f}" for r in runs)
        steal = ", ".join(f"{r['cores_host_steal']:.2f}" for r in runs)
        settings = f" {dict(sides[side])}" if sides[side] else ""
        ratios = [r["pantau_to_influxd_cpu"] for r in runs]
        print(
            f"{side}{settings}: median {median_round(runs)['readings_per_s']:.0f} readings/s"
            f" ({each}); Pantau/InfluxDB CPU median {statistics.median(ratios):.2f} "
            f"({', '.join(f'{x:.2f}' for x in ratios)}); cores stolen by the host: {steal}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000, help="backlog size (one reading)")
    parser.add_argument("--packs", type=int, default=10_000, help="backlog of 100-reading packs")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the packs drain")
    parser.add_argument("--naive", type=int, default=3_000, help="messages for the naive bridge")
    parser.add_argument("--outage-seconds", type=float, default=60.0)
    parser.add_argument("--outage-rate", type=float, default=5000.0)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--packs-only", action="store_true", help="only the packs run and InfluxDB alone"
    )
    parser.add_argument(
        "--drains-only",
        action="store_true",
        help="only the one-reading drain, the packs runs and InfluxDB alone (nothing saved)",
    )
    parser.add_argument(
        "--against",
        metavar="PANTAU_NAME=value[,…]",
        help="only the packs run, in rounds alternating the default settings and these",
    )
    args = parser.parse_args()
    if args.quick:
        args.messages, args.packs, args.naive, args.rounds = 20_000, 1_000, 1_000, 1
        args.outage_seconds, args.outage_rate = 5.0, 1000.0
    if args.against:
        try:
            variant = parse_settings(args.against)
        except ValueError as exc:
            parser.error(f"--against {exc}")
        compare_settings(args.packs, args.rounds, variant)
        return
    if args.packs_only:
        packs_only(args.packs, args.rounds)
        return
    if args.drains_only:
        drains_only(args.messages, args.packs, args.rounds)
        return
    with environment() as env:
        runs = {
            "bare": timed("bare paho subscriber", lambda: run_bare(env, args.messages)),
            "pantau": timed(
                "pantau ingest, backlog",
                lambda: run_pantau_backlog(
                    env,
                    "single",
                    single_messages(args.messages, now_ms() - 3_600_000),
                    args.messages,
                ),
            ),
            **packs_rounds(env, args.packs, args.rounds),
            "naive": timed("naive bridge", lambda: run_naive(env, args.naive)),
            "live": timed("pantau ingest, live publisher", lambda: run_live(env, args.messages)),
            "outage": timed(
                "InfluxDB outage",
                lambda: run_outage(env, args.outage_seconds, args.outage_rate),
            ),
        }
    bare = runs["bare"]["messages_per_s"]
    ratios = {
        "pantau_to_bare": runs["pantau"]["messages_per_s"] / bare,
        "pantau_to_naive": runs["pantau"]["messages_per_s"] / runs["naive"]["messages_per_s"],
        "live_to_bare": runs["live"]["messages_per_s"] / bare,
        "packs_to_influx_alone": runs["pantau_packs"]["readings_per_s"]
        / runs["influx_alone"]["readings_per_s"],
        "packs_pantau_to_influxd_cpu": runs["rounds"]["pantau_to_influxd_cpu_median"],
        "single_pantau_to_influxd_cpu": runs["pantau"]["pantau_to_influxd_cpu"],
    }
    print()
    print(f"{'run':34} {'messages':>10} {'msg/s':>10} {'readings/s':>11} {'× bare':>7}")
    for name, r in runs.items():
        if "messages_per_s" not in r:
            continue
        print(
            f"{name:34} {r['messages']:>10.0f} {r['messages_per_s']:>10.0f} "
            f"{r.get('readings_per_s', r['messages_per_s']):>11.0f} "
            f"{r['messages_per_s'] / bare:>7.2f}"
        )
    report_rounds(runs)
    report_cpu("one-reading messages", runs["pantau"], 1.0)
    o = runs["outage"]
    print(
        f"outage: {o['messages']:.0f} messages in {o['publish_seconds']:.0f} s with InfluxDB down, "
        f"spool {o['spool_bytes_at_restart'] / 1e6:.1f} MB, drained in {o['drain_seconds']:.1f} s, "
        f"peak RSS receiver {o['peak_rss_mib_receiver']:.0f} MiB, "
        f"worker {o['peak_rss_mib_worker']:.0f} MiB; lost 0"
    )
    print(
        f"pantau/bare {ratios['pantau_to_bare']:.2f} (target ≥ 0.80); packs "
        f"{runs['pantau_packs']['readings_per_s']:.0f} readings/s, median round (target ≥ 150000), "
        f"{ratios['packs_to_influx_alone']:.2f} of InfluxDB alone; "
        f"pantau/naive {ratios['pantau_to_naive']:.1f}×"
    )
    save_results(RESULTS, {"args": vars(args), "runs": runs, "ratios": ratios})


if __name__ == "__main__":
    main()
