"""LineBlock: lines as one body of bytes, sliced into requests, read back as strings."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pantau.lineblock import LineBlock, assemble, pieces

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
        b"".join(tables[k][row[k]] for k in range(4)) + str(row[4]).encode() + b"\n"
        for row in rows
    ]
    assert block.body() == b"".join(expected)
    assert list(block) == [line[:-1].decode() for line in expected]
