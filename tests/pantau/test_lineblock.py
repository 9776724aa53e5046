"""LineBlock: lines as one body of bytes, sliced into requests, read back as strings."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pantau.lineblock import LineBlock, Pieces, assemble, pieces, readings_lines

_LINES = st.lists(
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n\r"), max_size=12),
    max_size=20,
)


@settings(max_examples=100, deadline=None)
@given(lines=_LINES, more=_LINES, cut=st.integers(0, 25), stop=st.integers(0, 25))
def test_a_block_reads_back_as_its_lines(
    lines: list[str], more: list[str], cut: int, stop: int
) -> None:
    block = LineBlock.of(lines)
    assert list(block) == lines and len(block) == len(lines)
    assert block.body() == "".join(line + "\n" for line in lines).encode()
    part = block[cut:stop]
    assert list(part) == lines[cut:stop]
    assert part.body() == "".join(line + "\n" for line in lines[cut:stop]).encode()
    joined = part + more
    assert list(joined) == lines[cut:stop] + more
    assert list(joined[1:]) == (lines[cut:stop] + more)[1:]
    if lines:
        assert block[-1] == lines[-1]


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.integers(0, 2),
            st.integers(0, 2),
            st.integers(0, 2),
            st.integers(-(2**63), 2**63 - 1),
        ),
        max_size=30,
    )
)
def test_the_kernel_puts_lines_together_like_python(
    rows: list[tuple[int, int, int, int, int]],
) -> None:
    tables = [[b"a", b"bc", b""], [b"x=", "é".encode(), b"1.5"], [b",r=", b"", b"-0.0"],
              [b" ", b",f=1i ", b"!"]]  # fmt: skip
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    parts = [
        (*pieces(table), np.array(column, np.int64))
        for table, column in zip(tables, columns[:4], strict=True)
    ]
    block = assemble(parts, np.array(columns[4], np.int64))
    expected = [
        b"".join(tables[k][row[k]] for k in range(4)) + str(row[4]).encode() + b"\n" for row in rows
    ]
    assert block.body() == b"".join(expected)
    assert list(block) == [line[:-1].decode() for line in expected]


_SHORT_DECIMALS = st.builds(
    lambda m, k, sign: sign * m / 10**k,
    st.integers(0, 10**13),
    st.integers(0, 17),
    st.sampled_from([1.0, -1.0]),
)
_EDGES = st.sampled_from(
    [0.0, -0.0, 1e-4, 0.0001 * (1 - 2**-52), 2.0**40, 2.0**40 - 1, 1e15, 1e16, 1e-5,
     0.1, 0.2, 0.3, 1 / 3, 123456789012.5, 5e-324, 1.7976931348623157e308,
     float("nan"), float("inf"), -float("inf"), 9007199254740993.0]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.one_of(_SHORT_DECIMALS, st.floats(), _EDGES), min_size=1, max_size=60),
    flags=st.integers(-(2**31), 2**31 - 1),
    ts=st.one_of(
        st.integers(-(2**63), 2**63 - 2),
        st.integers(1_700_000_000_000, 1_900_000_000_000).map(lambda ms: ms * 1_000_000),
    ),
)
def test_readings_lines_print_every_float_as_repr_does(
    values: list[float], flags: int, ts: int
) -> None:
    """Whether the kernel prints a float or leaves it to ``repr``, the text is ``repr``'s:
    InfluxDB reads back the very same double."""
    rows = len(values)
    floats = np.array(values, np.float64)
    columns = (floats, np.roll(floats, 1), np.roll(floats, 2))
    block = readings_lines(
        Pieces.of([b"m v=", b"n,t=1 v="]),
        np.arange(rows, dtype=np.int64) % 2,
        columns,
        np.full(rows, flags, np.int32),
        np.full(rows, ts, np.int64) + np.arange(rows, dtype=np.int64) % 2,
    )
    value, raw, score = (c.tolist() for c in columns)
    expected = [
        f"{'m' if r % 2 == 0 else 'n,t=1'} v={value[r]!r},raw={raw[r]!r},"
        f"flags={flags}i,score={score[r]!r} {ts + r % 2}"
        for r in range(rows)
    ]
    assert list(block) == expected
