"""The streaming anomaly detector: causal, vectorised across series, score in [0, 1].

Per series it tracks exponentially weighted statistics and turns each reading into
up to five *surprises*, each compared with its own long-run distribution:

- **level**: ``log1p`` of the larger of |x - level| / deviation and
  |x - previous| / (typical step) — jumps, spikes, level shifts;
- **activity**: |log(recent step size / long-run step size)| — a series that
  suddenly goes flat (stuck sensor) or much noisier (one step enters the recent step
  size clipped at ``activity_clip`` typical steps: a spike is not a change of activity);
- **season**: |x - profile[time of day]| / profile deviation, from a per-series
  time-of-day profile (``season_bins`` bins per day) — a daily pattern that does
  not happen (a missing rush hour, a peak at the wrong level);
- **range** (``range_weight`` > 0): how far the reading lies beyond the series' recent
  extremes (which relax slowly toward the level), relative to their spread — a value
  never seen before, the "novel input" of ARTime's adaptive resonance;
- **shift** (``shift_weight`` > 0, needs the range channel): ``log1p`` of |medium-term
  mean - level| in standard errors of that mean (rate ``alpha_shift``; a reading enters
  it clipped at ``shift_clip`` deviations from the level) — a level shift or a ramp
  inside the noise, which no single reading shows.

Besides the channels, a plain rule (``extreme_margin`` > 0): once the series has a
history of ``extreme_after_s`` (a week: its longest natural cycle), a reading beyond its
all-time extremes (pulled toward the level by ``extreme_decay`` per reading) by more
than ``extreme_margin`` x their spread scores 1 outside a cooldown — a value the series
has never shown, whatever the gates say.

Each surprise is smoothed (short EW average) and standardised against the EW mean
and variance of that average (an "anomaly likelihood" in the spirit of Numenta's),
giving ``u``. Two *novelty gates* (the idea behind CAD OSE's and ARTime's restraint)
lower ``u`` when the surprise is not new: the level channel (every channel with
``novelty_all``) against its own record, the largest smoothed surprise seen (slowly
decaying), so regularly recurring spikes stop alarming; and the combined ``u``
against the largest combined ``u`` seen (``unovel_*``). An *adaptive bar*
(``bar_*``): each series tracks a high quantile of its own combined ``u`` (stochastic
approximation, one float), and the combined ``u`` is lowered by how far that quantile
lies above ``bar_base``, so a series whose unusual events are common needs more to
alarm. The largest ``u`` is squashed into [0, 1] with a logistic curve. After an alarm
the next ``cooldown`` scores are damped, so one event raises one alarm.

Bounded state per series: ``N_CORE`` floats plus ``3 x season_bins`` for the profile.
Only the past is used: a reading is scored against the state before it, then (if it
is an in-order, plausible reading) folded into the state. The step itself is compiled,
one reading at a time (:mod:`ingest.pipeline.detector_kernel`); the same kernel runs in
:meth:`Pipeline.process` (inside its one pass over the rows,
:mod:`ingest.pipeline.sequential`) and in ``bench/nab.py``. The slow reference
(``tests/ingest/pipeline/reference.py``, ``Reference.detect``) restates it in plain
Python. Which parts are on, and every parameter, were chosen by the NAB cross-validation protocol
(``python -m bench.nab --cv``; ``docs/anomaly.md``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from ingest.pipeline.config import DetectorConfig
from ingest.pipeline.state import grown_capacity

# Fields of the per-series core state (``DetectorState.core[slot, FIELD]``: a series'
# state is contiguous, what a kernel stepping one reading at a time wants).
N, LEVEL, DEV, PREV, DDEV, SDIFF, COOL, UMAX, HI, LO, MEDIUM, GMAX, GMIN, FIRST, QBAR = range(15)
CHANNELS = 5  # level, activity, season, range, shift
RANGE, SHIFT = 3, 4  # the optional channels (in use: the first channels_in_use(cfg))
# First row of each per-channel block: short average of the surprise, its long-run mean
# and variance, and its record (largest short average seen, slowly decaying).
SHORT, TMEAN, TVAR, RECORD = (15 + k * CHANNELS for k in range(4))
N_CORE = 15 + 4 * CHANNELS
# Fields of the time-of-day profile (``DetectorState.profile[slot * season_bins + bin, FIELD]``).
P_MEAN, P_DEV, P_COUNT = range(3)

TINY = 1e-9
LOGISTIC_SLOPE = 1.702  # logistic approximation of the normal CDF
SUBNORMAL_GUARD = 1e-100  # state values below this (in magnitude) are set to 0
U_LIMIT = 30.0  # |u| is clipped here (keeps exp() finite; the score saturates long before)


class DetectorState:
    """Per-series detector state, stored compactly for the series that have been seen.

    ``slot[series]`` is the series' row in ``core`` (slots x N_CORE) and the first of its
    ``season_bins`` rows in ``profile`` (slots * season_bins x 3), or -1. A device
    has a series id for every catalogue metric but reports only a few of them, so the
    ~100 floats of state are allocated only for series that actually report (by the
    kernel, at their first scored reading: :func:`~ingest.pipeline.detector_kernel.detect_rows`).
    Checkpoints hold the field-major layout (``core`` N_CORE x slots, ``profile`` 3 x
    slots * season_bins) of earlier versions, so either version loads the other's.
    """

    def __init__(self, season_bins: int) -> None:
        self.bins = season_bins
        self._reset()

    def _reset(self) -> None:
        self.slot = np.zeros(0, np.int64)
        self.used = 0
        self.core = np.zeros((0, N_CORE), np.float64)
        self.profile = np.zeros((0, 3), np.float64)

    @property
    def capacity(self) -> int:
        return int(self.slot.shape[0])

    def ensure(self, n_series: int) -> None:
        cap = self.capacity
        if n_series <= cap:
            return
        slot = np.full(grown_capacity(cap, n_series), -1, np.int64)
        slot[:cap] = self.slot
        self.slot = slot

    def grow(self) -> None:
        """Room for more slots (amortised doubling; new rows zeroed)."""
        room = max(2 * self.core.shape[0], 1024)
        core = np.zeros((room, N_CORE), np.float64)
        core[: self.used] = self.core[: self.used]
        profile = np.zeros((room * self.bins, 3), np.float64)
        profile[: self.used * self.bins] = self.profile[: self.used * self.bins]
        self.core, self.profile = core, profile

    def to_arrays(self, prefix: str) -> dict[str, NDArray[np.generic]]:
        return {
            prefix + "slot": self.slot,
            prefix + "core": self.core[: self.used].T,
            prefix + "profile": self.profile[: self.used * self.bins].T,
        }

    def load(self, arrays: Mapping[str, NDArray[np.generic]], prefix: str) -> None:
        """Load a checkpoint; state of another layout (older version) starts afresh."""
        slot = arrays.get(prefix + "slot")
        core = arrays.get(prefix + "core")
        profile = arrays.get(prefix + "profile")
        if (
            slot is None
            or core is None
            or profile is None
            or core.ndim != 2
            or core.shape[0] != N_CORE
            or profile.shape != (3, core.shape[1] * self.bins)
        ):
            self._reset()
            return
        self.slot = np.asarray(slot, np.int64).copy()
        self.core = np.ascontiguousarray(np.asarray(core, np.float64).T)
        self.profile = np.ascontiguousarray(np.asarray(profile, np.float64).T)
        self.used = int(self.core.shape[0])


def channels_in_use(cfg: DetectorConfig) -> int:
    """How many channels ``cfg`` uses: always level, activity and season; then range
    (``range_weight``), then shift (``shift_weight``, which needs the range channel)."""
    if cfg.shift_weight != 0.0:
        return SHIFT + 1
    return RANGE + 1 if cfg.range_weight != 0.0 else RANGE


def new_detector_state(cfg: DetectorConfig) -> DetectorState:
    return DetectorState(cfg.season_bins)
