"""Lines of line protocol held as one ``bytes`` body, built per batch by a compiled kernel.

A :class:`LineBlock` is what the encoder returns for a chunk's readings: the request
bodies InfluxDB takes are slices of it, so no Python string is made per reading.
It is also a ``Sequence[str]`` (one line, without its newline, per item), for the
few places that look at single lines (a rejected line's dead letter, tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import overload

import numpy as np
from numpy.typing import NDArray

from pantau import schema
from pantau.compiled import copy_bytes, inlined, kernel, loop_kernel

U8 = NDArray[np.uint8]
I64 = NDArray[np.int64]


class LineBlock(Sequence[str]):
    """``data`` holds the lines, each ended by ``\\n``; ``ends[i]`` is the offset just past
    line ``i``'s newline. ``data`` is ``bytes`` or, as the kernels write it, a NumPy byte
    array (not copied into ``bytes`` as a whole: each request body is copied from it)."""

    __slots__ = ("data", "ends", "start")

    def __init__(
        self, data: bytes | memoryview | U8, ends: NDArray[np.int64], start: int = 0
    ) -> None:
        self.data = memoryview(data.data if isinstance(data, np.ndarray) else data)
        self.ends = ends
        self.start = start  # offset of the first line in ``data``

    @classmethod
    def of(cls, lines: Iterable[str]) -> LineBlock:
        encoded = [line.encode() + b"\n" for line in lines]
        ends = np.cumsum([len(line) for line in encoded], dtype=np.int64)
        return cls(b"".join(encoded), ends if ends.shape[0] else np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.ends.shape[0])

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> LineBlock: ...

    def __getitem__(self, index: int | slice) -> str | LineBlock:
        if isinstance(index, slice):
            first, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("a LineBlock slices only with step 1")
            stop = max(stop, first)
            return LineBlock(self.data, self.ends[first:stop], self._begin(first))
        i = range(len(self))[index]
        return str(self.data[self._begin(i) : int(self.ends[i]) - 1], "utf-8")

    def _begin(self, i: int) -> int:
        return int(self.ends[i - 1]) if i > 0 else self.start

    def body(self) -> bytes:
        """The lines as one request body (each ended by a newline)."""
        if not len(self):
            return b""
        end = int(self.ends[-1])
        if self.start == 0 and end == len(self.data) and isinstance(self.data.obj, bytes):
            return self.data.obj
        return self.data[self.start : end].tobytes()

    def __add__(self, other: Sequence[str]) -> LineBlock:
        """These lines, then ``other``'s."""
        more = other if isinstance(other, LineBlock) else LineBlock.of(other)
        mine = self.body()
        ends = np.concatenate((self.ends - self.start, more.ends - more.start + len(mine))).astype(
            np.int64
        )
        return LineBlock(mine + more.body(), ends)


def pieces(texts: Sequence[bytes]) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Byte strings as one buffer and their start offsets (one more: the end)."""
    starts = np.zeros(len(texts) + 1, np.int64)
    np.cumsum([len(t) for t in texts], out=starts[1:])
    return np.frombuffer(b"".join(texts), np.uint8), starts


def assemble(
    parts: Sequence[tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]]],
    ts: NDArray[np.int64],
) -> LineBlock:
    """One line per row: for each of ``parts`` (buffer, starts, the row's piece index) the
    row's piece, then the row's timestamp in decimal and a newline. Exactly four parts."""
    (b0, s0, i0), (b1, s1, i1), (b2, s2, i2), (b3, s3, i3) = parts
    n = ts.shape[0]
    ends = np.empty(n, np.int64)
    out = _assemble(b0, s0, i0, b1, s1, i1, b2, s2, i2, b3, s3, i3, ts, ends)
    return LineBlock(out.tobytes(), ends)


@kernel
def _digits(value: np.uint64) -> int:  # pragma: no cover - compiled
    count = 1
    ten = np.uint64(10)  # uint64 throughout: mixed with int64, Numba would go through float
    while value >= ten:
        value //= ten
        count += 1
    return count


@kernel
def _copy(
    out: NDArray[np.uint8], at: int, buf: NDArray[np.uint8], starts: NDArray[np.int64], k: int
) -> int:  # pragma: no cover - compiled
    first, stop = starts[k], starts[k + 1]
    out[at : at + stop - first] = buf[first:stop]
    return int(at + stop - first)


@kernel
def _assemble(  # pragma: no cover - compiled
    b0: U8, s0: I64, i0: I64, b1: U8, s1: I64, i1: I64,
    b2: U8, s2: I64, i2: I64, b3: U8, s3: I64, i3: I64,
    ts: I64, ends: I64,
) -> U8:  # fmt: skip
    n = ts.shape[0]
    total = 0
    for r in range(n):
        t = ts[r]
        magnitude = np.uint64(-(t + 1)) + np.uint64(1) if t < 0 else np.uint64(t)
        total += (
            s0[i0[r] + 1] - s0[i0[r]]
            + s1[i1[r] + 1] - s1[i1[r]]
            + s2[i2[r] + 1] - s2[i2[r]]
            + s3[i3[r] + 1] - s3[i3[r]]
            + _digits(magnitude) + (1 if t < 0 else 0) + 1
        )  # fmt: skip
        ends[r] = total
    out = np.empty(total, np.uint8)
    at = 0
    for r in range(n):
        at = _copy(out, at, b0, s0, i0[r])
        at = _copy(out, at, b1, s1, i1[r])
        at = _copy(out, at, b2, s2, i2[r])
        at = _copy(out, at, b3, s3, i3[r])
        t = ts[r]
        if t < 0:
            out[at] = 45  # "-"
            at += 1
            magnitude = np.uint64(-(t + 1)) + np.uint64(1)
        else:
            magnitude = np.uint64(t)
        width = _digits(magnitude)
        ten = np.uint64(10)
        for j in range(width - 1, -1, -1):
            out[at + j] = np.uint8(48) + np.uint8(magnitude % ten)
            magnitude //= ten
        at += width
        out[at] = 10  # "\n"
        at += 1
    return out


# ---- readings' lines in one compiled pass -------------------------------------------------

_POW10 = np.array([10.0**k for k in range(23)], np.float64)  # each exact in a double
_UPOW10 = np.array([10**k for k in range(20)], np.uint64)
_PAIRS = np.frombuffer(b"".join(f"{i:02d}".encode() for i in range(100)), np.uint8).copy()
_EXACT_BELOW = 2.0**40  # scaled decimals below this: rint finds the only candidate
_BILLION = 1_000_000_000
FLOAT_TEXT_MAX = 24  # the longest repr of a double: '-1.2345678901234567e-308'


def _constant(text: str) -> NDArray[np.uint8]:
    return np.frombuffer(text.encode(), np.uint8).copy()


# between a reading's fields (constants: the kernel's copies of them unrolled)
_RAW = _constant(f",{schema.FIELD_RAW}=")
_FLAGS = _constant(f",{schema.FIELD_FLAGS}=")
_SCORE = _constant(f"i,{schema.FIELD_SCORE}=")
_MICROS = _constant("000000")
_SEPS_WIDTH = len(_RAW) + len(_FLAGS) + len(_SCORE) + 1


@inlined
def _decimal(value: float) -> tuple[int, np.uint64]:  # pragma: no cover - compiled
    """``value`` as ``m / 10**k`` with the fewest decimals ``k`` (``m`` an integer) such that
    the text of ``m·10**-k`` reads back as ``value`` exactly: ``(k, m)``. ``k`` is -1 when
    Python's ``repr`` would not print it so, in fixed notation, or when this is not sure to
    find the same digits (so: at most 12 significant digits, magnitude 1e-4 to 2**40).

    ``m`` and ``10**k`` are exact doubles, so ``m / 10**k`` is the correctly rounded value
    of the text: when it equals ``value`` the text reads back exactly. The first ``k`` that
    does gives the fewest digits, as ``repr`` does; below 2**40 the scaled value is within
    2**-11 of the only integer that can work, so ``rint`` cannot miss it."""
    a = abs(value)
    if a == 0.0:
        return 0, np.uint64(0)
    if not (1e-4 <= a < _EXACT_BELOW):  # also NaN and infinities
        return -1, np.uint64(0)
    for k in range(23):
        scaled = a * _POW10[k]
        if scaled >= _EXACT_BELOW:
            break
        m = np.rint(scaled)
        if m / _POW10[k] == a:
            return k, np.uint64(m)
    return -1, np.uint64(0)


@loop_kernel
def _decimals(  # pragma: no cover - compiled
    values: NDArray[np.float64], k: NDArray[np.int8], m: NDArray[np.uint64]
) -> int:
    """:func:`_decimal` of every value; the number of values it is not sure of."""
    slow = 0
    for i in range(values.shape[0]):
        places, mantissa = _decimal(values[i])
        k[i] = places
        m[i] = mantissa
        if places < 0:
            slow += 1
    return slow


@inlined
def _width(value: np.uint64) -> int:  # pragma: no cover - compiled
    """Decimal digits of ``value``."""
    if value < np.uint64(100):
        return 1 if value < np.uint64(10) else 2
    width = 3
    while width < 20 and value >= _UPOW10[width]:
        width += 1
    return width


@inlined
def _put_digits(out: U8, at: int, value: np.uint64, width: int) -> int:  # pragma: no cover
    """``value`` in ``width`` decimal digits (zero-padded) at ``at``; the position after."""
    end = at + width
    pos = end
    hundred = np.uint64(100)
    while pos - at >= 2:
        q = value // hundred
        r = np.int64(value - q * hundred) * 2
        pos -= 2
        out[pos] = _PAIRS[r]
        out[pos + 1] = _PAIRS[r + 1]
        value = q
    if pos > at:
        out[at] = np.uint8(48 + np.int64(value))
    return end


@inlined
def _put_int(out: U8, at: int, value: int) -> int:  # pragma: no cover - compiled
    """A signed integer in decimal at ``at``; the position after."""
    if value < 0:
        out[at] = 45  # "-"
        at += 1
        magnitude = np.uint64(-(value + 1)) + np.uint64(1)
    else:
        magnitude = np.uint64(value)
    return _put_digits(out, at, magnitude, _width(magnitude))


@inlined
def _put_float(  # pragma: no cover - compiled
    out: U8, at: int, value: float, k: int, m: np.uint64, slow_row: I64, i: int, texts: U8,
    starts: I64,
) -> int:  # fmt: skip
    """``repr(value)`` at ``at``: from its decimal ``(k, m)``, or the text ``slow_row[i]``
    of ``texts`` if ``k`` is -1; the position after."""
    if k < 0:
        slow = slow_row[i]
        return copy_bytes(out, at, texts, starts[slow], starts[slow + 1])
    if np.signbit(value):
        out[at] = 45  # "-"
        at += 1
    if k == 0:
        at = _put_digits(out, at, m, _width(m))
        out[at] = 46  # "x.0"
        out[at + 1] = 48
        return at + 2
    # k > 0 is the fewest decimals: m / 10**k is no integer, and further from one than
    # ``value`` is from it, so ``value``'s floor is the integer part
    whole = np.uint64(np.floor(abs(value)))
    at = _put_digits(out, at, whole, _width(whole))
    out[at] = 46  # "."
    return _put_digits(out, at + 1, m - whole * _UPOW10[k], k)


@loop_kernel
def _readings_lines(  # pragma: no cover - compiled
    heads: U8, head_starts: I64, head_row: I64,
    floats: NDArray[np.float64], bits: I64, k: NDArray[np.int8], m: NDArray[np.uint64],
    slow_row: I64, texts: U8, starts: I64,
    flags: NDArray[np.int32], ts: I64, out: U8, ends: I64,
) -> int:  # fmt: skip
    """Row ``r``: head, value, ``,raw=``, raw, ``,flags=``, flags, ``i,score=``, score, a
    space, ts and a newline (the head ends with `` value=``).
    ``floats``/``k``/``m``/``slow_row`` hold the values, then the raws, then the scores;
    ``slow_row`` indexes ``texts`` for those :func:`_decimal` was not sure of."""
    n = ts.shape[0]
    at = 0
    seconds = -1  # the last timestamp's seconds, printed at ``seconds_at``
    seconds_at = seconds_width = 0
    for r in range(n):
        h = head_row[r]
        at = copy_bytes(out, at, heads, head_starts[h], head_starts[h + 1])
        value_at = at
        at = _put_float(out, at, floats[r], k[r], m[r], slow_row, r, texts, starts)
        value_stop = at
        at = copy_bytes(out, at, _RAW, 0, _RAW.shape[0])
        i = n + r
        if bits[i] == bits[r]:  # raw as value (calibration left it): the same text
            at = copy_bytes(out, at, out, value_at, value_stop)
        else:
            at = _put_float(out, at, floats[i], k[i], m[i], slow_row, i, texts, starts)
        at = copy_bytes(out, at, _FLAGS, 0, _FLAGS.shape[0])
        at = _put_int(out, at, flags[r])
        at = copy_bytes(out, at, _SCORE, 0, _SCORE.shape[0])
        i = 2 * n + r
        at = _put_float(out, at, floats[i], k[i], m[i], slow_row, i, texts, starts)
        out[at] = 32  # " "
        at += 1
        t = ts[r]
        if t >= _BILLION:  # seconds, often the previous line's, then nine digits
            s = t // _BILLION
            if s == seconds:
                at = copy_bytes(out, at, out, seconds_at, seconds_at + seconds_width)
            else:
                seconds, seconds_at = s, at
                at = _put_digits(out, at, np.uint64(s), _width(np.uint64(s)))
                seconds_width = at - seconds_at
            below = t - s * _BILLION
            if below % 1_000_000 == 0:  # whole milliseconds
                at = _put_digits(out, at, np.uint64(below // 1_000_000), 3)
                at = copy_bytes(out, at, _MICROS, 0, _MICROS.shape[0])
            else:
                at = _put_digits(out, at, np.uint64(below), 9)
        else:
            at = _put_int(out, at, t)
        out[at] = 10  # "\n"
        at += 1
        ends[r] = at
    return at


class Pieces:
    """Byte strings as one buffer and their start offsets (one more: the end), as the
    kernels take them; ``Pieces.of`` makes them, ``add`` appends more."""

    __slots__ = ("buffer", "starts", "texts")

    def __init__(self) -> None:
        self.texts: list[bytes] = []
        self.buffer, self.starts = pieces(())

    @classmethod
    def of(cls, texts: Sequence[bytes]) -> Pieces:
        made = cls()
        made.add(texts)
        return made

    def add(self, texts: Sequence[bytes]) -> None:
        if texts:
            self.texts += texts
            self.buffer, self.starts = pieces(self.texts)

    def __len__(self) -> int:
        return len(self.texts)


def readings_lines(
    heads: Pieces,
    head_row: NDArray[np.int64],
    columns: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    flags: NDArray[np.int32],
    ts: NDArray[np.int64],
) -> LineBlock:
    """One line of the ``readings`` measurement per row: ``heads[head_row]`` (which ends
    with `` value=``), then the value, raw and score ``columns`` (each as Python's
    ``repr`` prints it) and the row's ``flags`` and ``ts``.

    Floats are printed by the kernel when it is sure to print them as ``repr`` does
    (see :func:`_decimal`: up to 12 significant digits, from 1e-4 up); the rest (long
    mantissas, huge or tiny magnitudes, NaN) by ``repr`` itself, once per distinct value.
    """
    n = ts.shape[0]
    floats = np.concatenate(columns).astype(np.float64, copy=False)
    k = np.empty(3 * n, np.int8)
    m = np.empty(3 * n, np.uint64)
    slow = _decimals(floats, k, m)
    slow_row = np.zeros(3 * n if slow else 1, np.int64)  # read only where k is -1
    texts: list[bytes] = []
    if slow:
        where = np.flatnonzero(k < 0)
        values = floats[where]
        if slow > 32:  # once per distinct bit pattern (-0.0 and 0.0 print differently)
            distinct, slow_row[where] = np.unique(values.view(np.int64), return_inverse=True)
            values = distinct.view(np.float64)
        else:
            slow_row[where] = np.arange(slow)
        texts = [repr(v).encode() for v in values.tolist()]
    head_buf, head_starts = heads.buffer, heads.starts
    text_buf, text_starts = pieces(texts)
    bound = int(np.diff(head_starts)[head_row].sum()) + n * (
        3 * FLOAT_TEXT_MAX + _SEPS_WIDTH + 2 * 21 + 1
    )
    out = np.empty(bound, np.uint8)
    ends = np.empty(n, np.int64)
    total = _readings_lines(
        head_buf, head_starts, head_row, floats, floats.view(np.int64), k, m, slow_row,
        text_buf, text_starts, flags, ts, out, ends,
    )  # fmt: skip
    return LineBlock(out[:total], ends)


def warm_up() -> None:
    """Compile (or load) this module's kernels."""
    one = (np.zeros(1, np.uint8), np.zeros(2, np.int64), np.zeros(1, np.int64))
    assemble([one] * 4, np.ones(1, np.int64))
    floats = np.ones(1, np.float64)
    readings_lines(
        Pieces.of([b"m v="]),
        np.zeros(1, np.int64),
        (floats,) * 3,
        np.zeros(1, np.int32),
        np.ones(1, np.int64),
    )
