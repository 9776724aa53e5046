"""Line protocol: escaping of tags, strings and measurements."""

from __future__ import annotations

from pantau.lineprotocol import escape_measurement, escape_tag, field_string, tag_set


def test_escapes() -> None:
    assert escape_tag("a b,c=d") == "a\\ b\\,c\\=d"
    assert escape_measurement("m m,x=y") == "m\\ m\\,x=y"
    assert field_string('say "hi" \\ now') == '"say \\"hi\\" \\\\ now"'
    assert tag_set({"zone": "z", "device": "d", "empty": ""}) == ",device=d,zone=z"
