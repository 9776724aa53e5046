"""The simulator without a broker: determinism, payload validity, scenarios, faults."""

from __future__ import annotations

import re

import numpy as np
import pytest

from devices.zones import BOUNDS
from ingest.decode import decode
from ingest.readings import Columns
from sandbox.simulate.fleet import DeviceSpec, plan_fleet
from sandbox.simulate.payloads import FORMS, Message
from sandbox.simulate.replay import Pm25Replay, hourly_pm25, rolling_mean
from sandbox.simulate.runner import ListSink, Simulator
from sandbox.simulate.scenario import Scenario
from sandbox.simulate.signals import COLUMN, Signals

START_MS = 1_795_309_200_000  # 2026-11-22T08:00+07:00
ID = re.compile(r"[a-z0-9][a-z0-9_-]{1,62}")


class FakeClock:
    def __init__(self, start_s: float) -> None:
        self.now = start_s

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.001)


def run_sim(
    seed: int,
    *,
    devices: int = 30,
    form: str = "object",
    scenario: Scenario | None = None,
    backfill_h: float = 2.0,
    live_s: float = 20.0,
    rate: float = 15.0,
) -> tuple[list[DeviceSpec], list[Message]]:
    fleet = plan_fleet(devices, seed=seed, prefix="t", period_s=2.0, gateways=form == "gateway")
    signals = Signals(fleet, scenario or Scenario(), seed=seed, anchor_ms=START_MS)
    sim = Simulator(fleet, signals, form=form, pack=5, rate=rate)
    sink = ListSink([])
    sim.backfill(sink, hours=backfill_h, step_s=300, end_ms=START_MS)
    clock = FakeClock(START_MS / 1000)
    sim.live(sink, duration_s=live_s, clock=clock, sleep=clock.sleep)
    return fleet, sink.messages


class Everyone:
    """A decoder directory that knows every simulated device."""

    def __init__(self, fleet: list[DeviceSpec]) -> None:
        self.members = {s.id: s.gateway for s in fleet}

    def accepts(self, device: str) -> str | None:
        return None if device in self.members else "unknown_device"

    def gateway_allows(self, gateway: str, device: str) -> bool:
        return self.members.get(device) == gateway


def decoded(fleet: list[DeviceSpec], messages: list[Message]) -> Columns:
    out = Columns()
    directory = Everyone(fleet)
    for m in messages:
        result = decode(
            m.topic,
            m.payload,
            received_ns=START_MS * 1_000_000,
            directory=directory,
            out=out,
            max_payload=256 * 1024,
        )
        assert result.rejections == [], (m.topic, result.rejections[:3])
        if m.topic.endswith("/status"):
            assert result.status is not None and result.readings == 0
        else:
            assert result.readings > 0
    return out


def water_series(fleet: list[DeviceSpec], messages: list[Message], device: str) -> np.ndarray:
    columns = decoded(fleet, [m for m in messages if f"/{device}/" in m.topic])
    ts = np.array(columns.ts, np.int64) // 1_000_000
    raw = np.array(columns.raw)
    order = np.argsort(ts, kind="stable")
    return np.stack([ts[order], raw[order]])


# -- determinism ------------------------------------------------------------------------


def test_same_seed_same_messages_and_different_seed_different() -> None:
    _, first = run_sim(7)
    _, again = run_sim(7)
    _, other = run_sim(8)
    assert [(m.topic, m.payload) for m in first] == [(m.topic, m.payload) for m in again]
    assert [m.payload for m in first] != [m.payload for m in other]


def test_values_do_not_depend_on_how_requests_are_cut() -> None:
    fleet = plan_fleet(25, seed=3)
    signals = Signals(fleet, Scenario(), seed=3, anchor_ms=START_MS)
    device = np.repeat(np.arange(25), 40)
    ts = START_MS - 3_600_000 + np.tile(np.arange(40) * 90_000, 25)
    whole = signals.generate(device, ts, 90.0)
    half = device.shape[0] // 2
    a = signals.generate(device[:half], ts[:half], 90.0)
    b = signals.generate(device[half:], ts[half:], 90.0)
    np.testing.assert_array_equal(whole.values, np.concatenate((a.values, b.values)))
    np.testing.assert_array_equal(whole.sent, np.concatenate((a.sent, b.sent)))


# -- payloads ---------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_every_message_decodes_without_rejection(form: str) -> None:
    fleet, messages = run_sim(5, form=form, scenario=Scenario.demo())
    columns = decoded(fleet, messages)
    assert len(columns) >= sum(m.readings for m in messages)  # a reading has ≥ 1 value
    kinds = {s.id: s.kind for s in fleet}
    seen_kinds = {kinds[d] for d in columns.device}
    assert seen_kinds == {"air_quality", "water_level", "rain", "traffic", "weather"}
    readings = [m for m in messages if m.topic.endswith("/readings")]
    if form == "gateway":
        assert all(m.topic.startswith("gateways/") for m in readings)
    statuses = [m for m in messages if m.topic.endswith("/status")]
    assert len(statuses) == len([s for s in fleet if s.kind != "gateway"])  # online, or offline


def test_readings_are_plausible_and_in_time_order_per_device() -> None:
    fleet, messages = run_sim(2, backfill_h=6, scenario=Scenario.quiet())
    columns = decoded(fleet, messages)
    from pantau.catalogue import METRICS

    raw = np.array(columns.raw)
    metric = np.array(columns.metric)
    for index in np.unique(metric):
        m = METRICS[int(index)]
        values = raw[metric == index]
        assert values.min() >= m.low and values.max() <= m.high, m.name
    last: dict[tuple[str, int], int] = {}
    for device, index, ts in zip(columns.device, columns.metric, columns.ts, strict=True):
        assert ts > last.get((device, index), 0), device
        last[(device, index)] = ts


# -- fleet ------------------------------------------------------------------------------


def test_fleet_covers_every_kind_inside_the_regency() -> None:
    fleet = plan_fleet(200, seed=1, prefix="sim", gateways=True)
    kinds = {s.kind for s in fleet}
    assert kinds == {"air_quality", "water_level", "rain", "traffic", "weather", "gateway"}
    assert len([s for s in fleet if s.kind != "gateway"]) == 200
    assert len({s.id for s in fleet}) == len(fleet)
    for spec in fleet:
        assert ID.fullmatch(spec.id), spec.id
        assert BOUNDS.contains(spec.latitude, spec.longitude), spec.id
        if spec.kind == "water_level":
            assert spec.siaga is not None and list(spec.siaga) == sorted(spec.siaga)
        if spec.kind != "gateway":
            assert spec.gateway == f"sim-gw-{spec.zone}"
    river = {s.zone for s in fleet if s.kind in ("water_level", "rain")}
    assert river <= {"cikarang", "kali-bekasi", "cibitung", "cbl", "muara-gembong"}


# -- scenarios --------------------------------------------------------------------------


def test_flood_crosses_siaga_3_and_2_at_a_plausible_rate() -> None:
    scenario = Scenario(flood=("auto",), flood_after_s=5.0)
    fleet, messages = run_sim(4, scenario=scenario, live_s=120.0, backfill_h=0.5)
    station = next(s for s in fleet if s.kind == "water_level")
    assert station.siaga is not None
    ts, level = water_series(fleet, messages, station.id)
    live = ts >= START_MS
    assert level[~live].max() < station.siaga[0]  # normal before
    crossed = ts[live & (level >= station.siaga[0])]
    assert crossed.size and crossed[0] - START_MS < 40_000  # Siaga 3 within 40 s
    assert level[live].max() >= station.siaga[1]  # and on past Siaga 2
    rate = np.diff(level[live]) / (np.diff(ts[live]) / 1000.0)
    assert rate.max() < 2.0  # below the pipeline's RATE limit for water (2 cm/s)
    others = [s for s in fleet if s.kind == "water_level" and s.id != station.id]
    for other in others:
        assert other.siaga is not None
        _, level_other = water_series(fleet, messages, other.id)
        assert level_other.max() < other.siaga[1]


def test_offline_device_goes_silent_after_its_time() -> None:
    scenario = Scenario(offline=2, offline_after_s=8.0)
    fleet, messages = run_sim(6, scenario=scenario, live_s=30.0)
    silent = scenario.silent_ids(fleet)
    assert len(silent) == 2
    for device in silent:
        columns = decoded(fleet, [m for m in messages if f"/{device}/" in m.topic])
        ts = np.array(columns.ts) // 1_000_000
        assert (ts < START_MS).any()  # history before
        assert (ts[ts >= START_MS] < START_MS + 8_000).all()  # nothing after going silent
    talking = [s for s in fleet if s.id not in silent][:5]
    for spec in talking:
        columns = decoded(fleet, [m for m in messages if f"/{spec.id}/" in m.topic])
        assert (np.array(columns.ts) // 1_000_000 >= START_MS + 8_000).any()


def test_faults_stuck_dropouts_and_spikes() -> None:
    scenario = Scenario(stuck=1.0, stuck_minutes=60.0, dropout=0.1, spike=0.02)
    fleet = plan_fleet(10, seed=9)
    signals = Signals(fleet, scenario, seed=9, anchor_ms=START_MS)
    device = np.repeat(np.arange(10), 2000)
    ts = START_MS - 6 * 3_600_000 + np.tile(np.arange(2000) * 12_000, 10)
    r = signals.generate(device, ts, 12.0)
    assert 0.07 < 1.0 - r.sent.mean() < 0.13  # dropouts near 10 %
    pm25 = r.values[:, COLUMN["pm25"]]
    inside = (ts >= signals.stuck_from[device]) & (ts < signals.stuck_until[device])
    air = device == 0
    stuck_values = pm25[air & inside]
    assert stuck_values.size > 100 and np.unique(stuck_values).size <= 2  # a spike may hit it
    free = pm25[air & ~inside]
    assert np.unique(free).size > 100
    ratio = free[1:] / np.maximum(free[:-1], 1e-9)
    assert (ratio > 3.0).any()  # spikes


def test_replay_uses_the_real_record_and_pins_an_episode() -> None:
    series = hourly_pm25()
    assert series.shape == (43_824,) and not np.isnan(series).any()
    replay = Pm25Replay(3, seed=1, anchor_ms=START_MS)
    replay.pin_episode(0, seed=1, min_mean=80.0)
    hours = START_MS - np.arange(24)[::-1] * 3_600_000
    zone = np.zeros(24, np.int64)
    assert replay.at(zone, hours).mean() >= 60.0
    assert rolling_mean(np.arange(5.0), 2).tolist() == [0.0, 0.5, 1.5, 2.5, 3.5]
