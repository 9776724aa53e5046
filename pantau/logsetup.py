"""Logging set-up shared by every command: one line per event, UTC timestamps.

Every line passes :class:`RedactingFormatter`: an API key's secret never reaches a
log, wherever it came from (an access-log URL with ``?key=``, an exception text).
"""

from __future__ import annotations

import logging
import re
import sys
import time
from urllib.parse import unquote

# pk_<id>_<secret> (api/keys.py): the id stays, so a line still says which key
_API_KEY = re.compile(r"\b(pk_[0-9a-f]{12})_[A-Za-z0-9_-]+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the secret part of any API key replaced by ``***``.

    Percent-encoded text is decoded first (up to three times, for ``%255F``), so a
    key written ``pk%5F…`` or after an encoded space is caught too; such a line
    is logged decoded.
    """
    for _ in range(3):
        if "%" not in text:
            break
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return _API_KEY.sub(r"\1_***", text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = RedactingFormatter(
        "%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
