"""Counter-based random numbers: a pure function of (seed, stream, device, time).

A stateful generator would make values depend on the order and size of the
requests; hashing the coordinates with SplitMix64's finaliser makes each value
depend only on where it is, so a replay with the same seed is identical however
it is scheduled.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_DEVICE = np.uint64(0xD1B54A32D192ED03)
_TIME = np.uint64(0x8CB92BA72F3D8DD7)
_TWO_53 = 1.0 / float(1 << 53)


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * _M1
        x = x ^ (x >> np.uint64(27))
        x = x * _M2
        return x ^ (x >> np.uint64(31))


def hash64(seed: int, stream: int, device: ArrayLike, t: ArrayLike) -> NDArray[np.uint64]:
    """64 well-mixed bits per (device, t) element, broadcast, for one seed and stream."""
    key = _mix(np.array([(seed & 0xFFFFFFFF) << 20 ^ (stream & 0xFFFFF)], np.uint64) + _GOLDEN)
    d = np.asarray(device, dtype=np.int64).astype(np.uint64)
    k = np.asarray(t, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        return _mix(_mix(key ^ (d * _DEVICE)) + k * _TIME)


def uniform(seed: int, stream: int, device: ArrayLike, t: ArrayLike) -> NDArray[np.float64]:
    """Uniform on [0, 1)."""
    bits = hash64(seed, stream, device, t) >> np.uint64(11)
    return bits.astype(np.float64) * _TWO_53


def normal(seed: int, stream: int, device: ArrayLike, t: ArrayLike) -> NDArray[np.float64]:
    """Standard normal (Box–Muller over two independent uniforms)."""
    u1 = uniform(seed, 2 * stream, device, t)
    u2 = uniform(seed, 2 * stream + 1, device, t)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def smooth(
    seed: int, stream: int, device: ArrayLike, t_ms: ArrayLike, period_ms: int
) -> NDArray[np.float64]:
    """Standard-normal 'value noise': knots every ``period_ms``, cosine-interpolated between."""
    t = np.asarray(t_ms, dtype=np.int64)
    knot = t // period_ms
    frac = (t - knot * period_ms) / period_ms
    weight = 0.5 - 0.5 * np.cos(np.pi * frac)
    a = normal(seed, stream, device, knot)
    b = normal(seed, stream, device, knot + 1)
    result: NDArray[np.float64] = (1.0 - weight) * a + weight * b
    return result
