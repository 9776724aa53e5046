"""A slow, obvious pure-Python reference of the pipeline: one reading at a time, dicts and
floats, no NumPy. The vectorised pipeline must produce the same results.

It returns the *store state* (last write wins per point), which is what must not
depend on how the stream is cut into batches.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

from ingest.pipeline.config import (
    HOUR_NS,
    ISPU_POLLUTANTS,
    Calibration,
    DeviceInfo,
    PipelineConfig,
)
from pantau.catalogue import METRIC_INDEX, METRIC_NAMES, METRICS

N = len(METRICS)
CHANNELS = 5  # detector surprises: level, activity, season, range, shift
RANGE, SPIKE, FLATLINE, RATE, TIME, DUPLICATE, GAP, UNCAL, ANOMALY = (
    1,
    2,
    4,
    8,
    16,
    32,
    64,
    128,
    256,
)
BAD = RANGE | SPIKE | RATE | FLATLINE | TIME  # never moves a derived value
ISPU_TABLE = {
    "pm10": (50, 150, 350, 420, 500),
    "pm25": (15.5, 55.4, 150.4, 250.4, 500),
    "so2": (52, 180, 400, 800, 1200),
    "co": (4000, 8000, 15000, 30000, 45000),
    "o3": (120, 235, 400, 800, 1000),
    "no2": (80, 200, 1130, 2260, 3000),
    "hc": (45, 100, 215, 432, 648),
}
ISPU_LEVELS = (0, 50, 100, 200, 300, 500)
CATEGORIES = ("Baik", "Sedang", "Tidak Sehat", "Sangat Tidak Sehat", "Berbahaya")


def _f32(x: float) -> float:
    return float(struct.unpack("f", struct.pack("f", x))[0])


def ref_ispu_sub(pollutant: str, c: float) -> float:
    bps = (0.0, *map(float, ISPU_TABLE[pollutant]))
    c = min(max(c, 0.0), bps[-1])
    for i in range(1, len(bps)):
        if c <= bps[i]:
            lo, hi = bps[i - 1], bps[i]
            return ISPU_LEVELS[i - 1] + (ISPU_LEVELS[i] - ISPU_LEVELS[i - 1]) * (c - lo) / (hi - lo)
    return 500.0


def ref_category(index: int) -> str:
    for upper, name in zip((50, 100, 200, 300), CATEGORIES, strict=False):
        if index <= upper:
            return name
    return CATEGORIES[4]


@dataclass
class Series:
    newest: int | None = None
    last_seq: int = -1
    good_ts: int | None = None
    good_value: float = 0.0
    flat_run: int = 0
    trend_mean: float | None = None  # EW mean of good values
    # detector
    n: int = 0
    level: float = 0.0
    dev: float = 0.0
    prev: float = 0.0
    ddev: float = 0.0
    sdiff: float = 0.0
    umax: float = 0.0  # largest combined u seen (decaying)
    hi: float = 0.0  # recent extremes (pulled slowly toward the level)
    lo: float = 0.0
    medium: float = 0.0  # medium-term mean (the shift channel)
    gmax: float = 0.0  # all-time extremes (pulled very slowly toward the level)
    gmin: float = 0.0
    first: float = 0.0  # time of the first reading, s
    qbar: float = 0.0  # tracked quantile of the combined u (the adaptive bar)
    short: list[float] = field(default_factory=lambda: [0.0] * CHANNELS)
    tmean: list[float] = field(default_factory=lambda: [0.0] * CHANNELS)
    tvar: list[float] = field(default_factory=lambda: [0.0] * CHANNELS)
    record: list[float] = field(default_factory=lambda: [0.0] * CHANNELS)
    cool: int = 0
    profile: dict[int, tuple[float, float, int]] = field(default_factory=dict)  # time-of-day bin
    seen: list[tuple[int, int, float]] = field(default_factory=list)  # (ts, seq, raw)


@dataclass
class Store:
    readings: list[dict[str, Any]] = field(default_factory=list)
    redelivered: int = 0
    agg_1m: dict[tuple[int, int, int], tuple[float, float, float, int, int]] = field(
        default_factory=dict
    )
    agg_1h: dict[tuple[int, int, int], tuple[float, float, float, int, int]] = field(
        default_factory=dict
    )
    ispu: dict[tuple[int, int], tuple[int, str, str]] = field(default_factory=dict)
    flood: list[tuple[int, int, float, str, float | None, bool]] = field(default_factory=list)
    traffic: list[tuple[int, int, str, str]] = field(default_factory=list)


class Reference:
    def __init__(
        self, config: PipelineConfig, infos: list[DeviceInfo], cals: list[Calibration]
    ) -> None:
        self.cfg = config
        self.infos = {i.device: i for i in infos}
        self.cals = cals
        self.series: dict[int, Series] = {}
        self.windows: dict[int, dict[tuple[int, int], list[float]]] = {60: {}, 3600: {}}
        # ISPU's hour windows: pollutant readings without RANGE/SPIKE/RATE/FLATLINE/TIME
        self.ispu_windows: dict[tuple[int, int], list[float]] = {}
        self.siaga: dict[int, dict[str, int]] = {}
        self.store = Store()

    # -- helpers ---------------------------------------------------------------
    def qc(self, device: int, metric: int, name: str) -> float:
        info = self.infos.get(device)
        if info is not None and name in info.qc_overrides.get(METRIC_NAMES[metric], {}):
            return float(info.qc_overrides[METRIC_NAMES[metric]][name])
        q = self.cfg.metric_qc(METRIC_NAMES[metric])
        if name == "low":
            return METRICS[metric].low if q.low is None else q.low
        if name == "high":
            return METRICS[metric].high if q.high is None else q.high
        return float(getattr(q, name))

    def calibrate(self, device: int, metric: int, ts: int, raw: float) -> tuple[float, bool]:
        best: Calibration | None = None
        for c in self.cals:
            applies = c.device == device and c.metric == metric and c.effective_from_ns <= ts
            if applies and (best is None or c.effective_from_ns >= best.effective_from_ns):
                best = c
        if best is None:
            return raw, False
        value = 0.0
        for coef in reversed(best.coefficients):
            value = value * raw + coef
        return value, True

    def detect(
        self, st: Series, x: float, ts: int, update: bool
    ) -> tuple[float, float, float, int]:
        """ingest.pipeline.detector_kernel.score_row, in plain Python."""
        d = self.cfg.detector
        floor = d.scale_floor * abs(st.level) + 1e-9
        adiff = abs(x - st.prev)
        alev = abs(x - st.level)
        step = adiff if st.n > 0 else 0.0
        astep = min(step, d.activity_clip * (st.ddev + floor)) if d.activity_clip else step
        sdiff = st.sdiff + d.alpha_activity * (astep - st.sdiff) if st.n > 1 else step
        z_level = max(alev / (st.dev + floor), adiff / (st.ddev + floor))
        afloor = d.activity_floor * st.ddev
        z_act = abs(math.log((sdiff + floor + afloor) / (st.ddev + floor + afloor)))
        b = (ts // (86_400_000_000_000 // d.season_bins)) % d.season_bins
        pm, pd, pc = st.profile.get(b, (0.0, 0.0, 0))
        apm = abs(x - pm)
        z_season = 0.0
        if pc >= d.season_min_count:
            z_season = apm / (pd + d.season_floor * st.dev + floor)
        z_range = 0.0
        if st.n > 0:
            spread = st.hi - st.lo + st.dev + floor
            z_range = max(x - st.hi, st.lo - x, 0.0) / spread
        xc = x
        if d.shift_clip:
            lim = d.shift_clip * (st.dev + floor)
            xc = min(max(x, st.level - lim), st.level + lim)
        medium = st.medium + d.alpha_shift * (xc - st.medium) if st.n > 0 else x
        se = math.sqrt(d.alpha_shift / (2.0 - d.alpha_shift))
        z_shift = abs(medium - st.level) / ((st.dev + floor) * se)
        surprise = (
            math.log1p(z_level),
            d.activity_weight * z_act,
            d.season_weight * math.log1p(z_season),
            d.range_weight * math.log1p(z_range),
            d.shift_weight * math.log1p(z_shift),
        )
        alphas = (d.alpha_short, d.alpha_short, d.alpha_season_short, d.alpha_short, d.alpha_short)
        short = [0.0] * CHANNELS
        best = -math.inf
        # channels in use: level, activity, season; then range; then shift (needs range)
        used = 5 if d.shift_weight != 0.0 else 4 if d.range_weight != 0.0 else 3
        for c in range(used):
            if st.n > 0:
                short[c] = st.short[c] + alphas[c] * (surprise[c] - st.short[c])
            u = (short[c] - st.tmean[c]) / (math.sqrt(st.tvar[c]) + d.tail_floor)
            if c == 0 or d.novelty_all:
                rec = st.record[c]
                fall = d.novelty_ratio * rec + d.novelty_margin - short[c]
                u -= d.novelty_penalty * max(fall / (rec + 1e-9), 0.0)
            best = max(best, u)
        best = min(max(best, -30.0), 30.0)
        raw_best = best
        best -= d.unovel_penalty * max(d.unovel_ratio * st.umax - best, 0.0)
        if d.bar_quantile:
            best -= max(st.qbar - d.bar_base, 0.0)
        score = 1.0 / (1.0 + math.exp(-1.702 * (best - d.z_offset))) if st.n >= d.warmup else 0.0
        if st.cool > 0:
            score *= d.cooldown_factor
        t_s = ts / 1e9
        if st.cool <= 0 and d.extreme_margin and st.n > 0 and t_s - st.first >= d.extreme_after_s:
            m = d.extreme_margin * (st.gmax - st.gmin)
            if x > st.gmax + m or x < st.gmin - m:  # beyond every value seen: new
                score = 1.0
        score64 = score
        score = _f32(score)
        before = (st.level, st.dev, st.n)
        if update:
            inv = 1.0 / (st.n + 1.0)
            rate = max(d.alpha, inv)
            trate = max(d.alpha_tail, inv)
            if st.n > 0:
                st.gmax = max(x, st.gmax - d.extreme_decay * (st.gmax - st.level))
                st.gmin = min(x, st.gmin + d.extreme_decay * (st.level - st.gmin))
                st.hi = max(x, st.hi - d.range_decay * (st.hi - st.level))
                st.lo = min(x, st.lo + d.range_decay * (st.level - st.lo))
                st.level, st.dev = st.level + rate * (x - st.level), st.dev + rate * (alev - st.dev)
            else:
                st.level, st.dev, st.hi, st.lo = x, 0.0, x, x
                st.gmax, st.gmin, st.first = x, x, t_s
            st.ddev = st.ddev + rate * (adiff - st.ddev) if st.n > 1 else step
            st.sdiff = sdiff
            if score64 >= d.cooldown_level and st.cool <= 0:
                st.cool = d.cooldown
            else:
                st.cool = max(st.cool - 1, 0)
            st.umax = max(st.umax * d.unovel_decay, raw_best) if st.n >= d.unovel_start else 0.0
            if d.bar_quantile and st.n >= d.bar_start:
                hit = 1.0 if raw_best > st.qbar else 0.0
                st.qbar = st.qbar + d.bar_rate * (hit - d.bar_quantile)
            for c in range(used):
                st.record[c] = max(st.record[c] * d.novelty_decay, short[c])
                delta = short[c] - st.tmean[c]
                if d.tail_clip > 0 and st.n > d.warmup:
                    lim = d.tail_clip * (math.sqrt(st.tvar[c]) + d.tail_floor)
                    delta = min(max(delta, -lim), lim)
                st.tmean[c] = st.tmean[c] + trate * delta
                st.tvar[c] = (1.0 - trate) * (st.tvar[c] + trate * delta * delta)
            st.short = short
            if used > 3:  # the range channel's averages: flushed before subnormal
                for block in (st.short, st.tmean, st.tvar):
                    if abs(block[3]) < 1e-100:
                        block[3] = 0.0
            st.medium = medium
            if pc > 0:
                srate = max(d.alpha_season, 1.0 / (pc + 1.0))
                st.profile[b] = (pm + srate * (x - pm), pd + srate * (apm - pd), pc + 1)
            else:
                st.profile[b] = (x, 0.0, 1)
            st.prev = x
            st.n += 1
        return score, *before

    # -- one reading ---------------------------------------------------------------
    def process(self, device: int, metric: int, ts: int, raw: float, seq: int, now: int) -> None:
        cfg = self.cfg
        sid = device * N + metric
        st = self.series.setdefault(sid, Series())
        finite = math.isfinite(raw)
        if not finite:
            self.store.readings.append(
                dict(
                    device=device,
                    metric=metric,
                    ts=ts,
                    raw=raw,
                    seq=seq,
                    value=raw,
                    flags=0,
                    score=0.0,
                )
            )
            return
        value, calibrated = self.calibrate(device, metric, ts, raw)
        flags = 0
        if not (self.qc(device, metric, "low") <= value <= self.qc(device, metric, "high")):
            flags |= RANGE
        time_bad = ts > now + cfg.future_tolerance_ns or ts < now - cfg.max_age_ns
        if time_bad:
            flags |= TIME
        info = self.infos.get(device)
        if info is not None and info.requires_calibration and not calibrated:
            flags |= UNCAL
        eligible = not time_bad
        horizon = None if st.newest is None else st.newest - cfg.lateness_ns
        within = horizon is None or ts >= horizon
        if eligible and within and any((t, q, r) == (ts, seq, raw + 0.0) for t, q, r in st.seen):
            self.store.redelivered += 1
            return
        if (
            eligible
            and seq >= 0
            and any(q == seq and (horizon is None or t >= horizon) for t, q, _ in st.seen)
        ):
            flags |= DUPLICATE
        ordered = eligible and (st.newest is None or ts > st.newest)
        if ordered:
            st.newest = ts
            if seq >= 0:
                if st.last_seq >= 0 and seq - st.last_seq > 1:
                    flags |= GAP
                st.last_seq = seq
        in_range = math.isfinite(value) and not flags & RANGE
        good = ordered and in_range
        prev_ts, prev_value = st.good_ts, st.good_value
        trend: float | None = None  # smoothed change per hour
        new_mean: float | None = None
        expect: float | None = None  # what the trend expects (None: use the detector's level)
        if good:
            if prev_ts is not None and st.trend_mean is not None:
                dt_s = (ts - prev_ts) / 1e9
                a = -math.expm1(-dt_s / (cfg.trend_window_ns / 1e9))
                trend = (value - st.trend_mean) * a / (dt_s / 3600.0)
                new_mean = st.trend_mean + a * (value - st.trend_mean)
                expect = prev_value + a * (prev_value - st.trend_mean)
            else:
                new_mean = value
            if prev_ts is not None:
                step = abs(value - prev_value)
                if step > self.qc(device, metric, "max_rate_per_s") * ((ts - prev_ts) / 1e9):
                    flags |= RATE
                st.flat_run = (
                    st.flat_run + 1 if step <= self.qc(device, metric, "flatline_tolerance") else 0
                )
            else:
                st.flat_run = 0
            fc = self.qc(device, metric, "flatline_count")
            if fc > 0 and st.flat_run + 1 >= fc:
                flags |= FLATLINE
            st.good_ts, st.good_value = ts, value
        score = 0.0
        if in_range:
            score, level, dev, n = self.detect(st, value, ts, good)
            deviation = abs(value - level)
            if expect is not None:
                deviation = min(deviation, abs(value - expect))
            if (
                n >= cfg.detector.warmup
                and deviation > self.qc(device, metric, "spike_sigma") * dev
                and deviation > self.qc(device, metric, "spike_min_delta")
            ):
                flags |= SPIKE
            if score >= cfg.anomaly_threshold:
                flags |= ANOMALY
        clean = good and not flags & (RATE | FLATLINE | SPIKE)
        if clean:
            st.trend_mean = new_mean
        else:
            trend = None
        if eligible:
            st.seen.append((ts, seq, raw + 0.0))
        self.store.readings.append(
            dict(
                device=device,
                metric=metric,
                ts=ts,
                raw=raw,
                seq=seq,
                value=value,
                flags=flags,
                score=score,
            )
        )
        if eligible and within and math.isfinite(value):
            for width, target in ((60, self.store.agg_1m), (3600, self.store.agg_1h)):
                w = ts // (width * 1_000_000_000)
                acc = self.windows[width].setdefault((sid, w), [0.0, math.inf, -math.inf, 0, 0])
                acc[0] += value
                acc[1] = min(acc[1], value)
                acc[2] = max(acc[2], value)
                acc[3] += 1
                acc[4] = int(acc[4]) | flags
                target[(device, metric, w * width * 1_000_000_000)] = (
                    acc[0] / acc[3],
                    acc[1],
                    acc[2],
                    int(acc[3]),
                    int(acc[4]),
                )
            if METRIC_NAMES[metric] in ISPU_POLLUTANTS and not flags & BAD:
                w = ts // HOUR_NS
                acc = self.ispu_windows.setdefault((sid, w), [0.0, 0])
                acc[0] += value
                acc[1] += 1
                self.rewrite_ispu(device, w)
        if clean and metric == METRIC_INDEX["water_level"] and info is not None and info.siaga:
            thr = sorted(info.siaga)
            raw_status = sum(value >= t for t in thr)
            status = ("SIAGA 4", "SIAGA 3", "SIAGA 2", "SIAGA 1")[
                self.confirm(device, ts, raw_status)
            ]
            rising = trend is not None and trend >= cfg.flood_rise_alert_cm_per_h
            self.store.flood.append((device, ts, value, status, trend, rising))
        if good and METRIC_NAMES[metric] in ("speed", "occupancy"):
            if METRIC_NAMES[metric] == "speed":
                traffic = (
                    "lancar"
                    if value >= cfg.traffic_speed_lancar_kmh
                    else "macet"
                    if value < cfg.traffic_speed_macet_kmh
                    else "padat"
                )
            else:
                traffic = (
                    "macet"
                    if value >= cfg.traffic_occupancy_macet_pct
                    else "padat"
                    if value >= cfg.traffic_occupancy_padat_pct
                    else "lancar"
                )
            self.store.traffic.append((device, ts, METRIC_NAMES[metric], traffic))

    def confirm(self, device: int, ts: int, raw: int) -> int:
        """ingest.pipeline.flood.SiagaConfirmation, one reading at a time."""
        c = self.siaga.setdefault(device, {"status": 0, "dir": 0, "n": 0, "since": 0, "best": 0})
        side = (raw > c["status"]) - (raw < c["status"])
        if side == 0:
            c["dir"], c["n"] = 0, 0
            return c["status"]
        if side == c["dir"]:
            c["n"] += 1
            c["best"] = min(c["best"], raw) if side > 0 else max(c["best"], raw)
        else:
            c["dir"], c["n"], c["since"], c["best"] = side, 1, ts, raw
        need_n = self.qc(device, METRIC_INDEX["water_level"], "confirm_readings")
        need_s = self.qc(device, METRIC_INDEX["water_level"], "confirm_s")
        if c["n"] >= need_n and ts - c["since"] >= need_s * 1e9:
            c["status"], c["dir"], c["n"] = c["best"], 0, 0
        return c["status"]

    def rewrite_ispu(self, device: int, hour: int) -> None:
        hourly = self.ispu_windows
        longest = max(self.cfg.ispu_hours(p) for p in ISPU_POLLUTANTS)
        for k in range(hour, hour + longest):
            if not any((device * N + METRIC_INDEX[p], k) in hourly for p in ISPU_POLLUTANTS):
                continue
            best, dominant = -1.0, ""
            for p in ISPU_POLLUTANTS:
                total, count = 0.0, 0
                for j in range(self.cfg.ispu_hours(p)):
                    acc = hourly.get((device * N + METRIC_INDEX[p], k - j))
                    if acc is not None:
                        total += acc[0]
                        count += int(acc[1])
                if count:
                    sub = ref_ispu_sub(p, total / count)
                    if sub > best:
                        best, dominant = sub, p
            index = math.floor(best + 0.5)
            self.store.ispu[(device, k * HOUR_NS)] = (index, ref_category(index), dominant)
