"""``python -m alerts …`` is ``pantau alerts …`` (the dispatcher, rules, endpoints)."""

from __future__ import annotations

import sys

from pantau.cli import main

if __name__ == "__main__":
    sys.exit(main(["alerts", *sys.argv[1:]]))
