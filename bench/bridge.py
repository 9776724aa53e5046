"""Decode rate of the firmware bridge's drivers: frames per second, framer + decoder.

Each driver's real (captured or vector) frames are repeated into one byte stream with a
little line noise between frames, split into 64-byte reads as a serial port delivers
them, and pushed through the driver's framer and decoder. Prints a table and saves
``bench/results/bridge.json``. Run: ``python bench/bridge.py`` (well under a minute).
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

from firmware_bridge.drivers import DRIVERS
from firmware_bridge.framing import Frame
from firmware_bridge.options import Options

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "tests" / "data" / "serial" / "pypms_captured_data"
RESULTS = ROOT / "bench" / "results" / "bridge.json"
SECONDS_PER_DRIVER = 1.5


def captured(sensor: str) -> list[bytes]:
    lines = (CAPTURES / f"{sensor}.hexdump").read_text().splitlines()
    return [bytes.fromhex(line.split(": ", 1)[1].split("  ")[0]) for line in lines if line]


def cases() -> dict[str, tuple[dict[str, object], list[bytes]]]:
    return {
        "plantower": ({}, captured("PMSx003")),
        "sds011": ({}, captured("SDS01x")),
        "mhz19": ({}, captured("MHZ19B")),
        "hpma115": ({}, captured("HPMA115C0")),
        "sps30": ({}, captured("SPS30")),
        "mcu680": ({}, captured("MCU680")),
        "maxbotix": ({"mounting_height_cm": 500.0}, [b"R2257\r", b"R1830\r", b"R4012\r"]),
        "sdi12": ({}, [b"0+3.14OqZ\r\n", b"0+100.050+25.000+0EPi\r\n"]),
        "rg15": (
            {},
            [
                b"Acc  0.00 mm, EventAcc  0.00 mm, TotalAcc  1.23 mm, RInt  0.00 mmph\r\n",
                b"Acc  0.00 mm, EventAcc  0.58 mm, TotalAcc  0.58 mm, RInt  0.00 mmph\r\n",
            ],
        ),
        "modbus": (
            {"register": 0, "metric": "water_level", "scale": 0.1},
            [
                bytes.fromhex("010302005638 7a".replace(" ", "")),
                bytes.fromhex("0103020006 3846".replace(" ", "")),
            ],
        ),
    }


def measure(name: str, options: dict[str, object], frames: list[bytes]) -> dict[str, float]:
    driver = DRIVERS[name](Options(options, "bench"))
    noise = b"\x00" if name not in ("maxbotix", "sdi12", "rg15") else b""
    stream = b"".join(noise + f for f in frames) * max(1, 20_000 // sum(map(len, frames)))
    chunks = [stream[i : i + 64] for i in range(0, len(stream), 64)]
    decode: Callable[[bytes], object] = driver.decode
    decoded = 0
    rounds = 0
    start = time.perf_counter()
    while time.perf_counter() - start < SECONDS_PER_DRIVER:
        framer = driver.make_framer()
        for chunk in chunks:
            for event in framer.feed(chunk):
                if isinstance(event, Frame):
                    decode(event.data)
                    decoded += 1
        rounds += 1
    elapsed = time.perf_counter() - start
    return {
        "frames_per_s": decoded / elapsed,
        "bytes_per_s": rounds * len(stream) / elapsed,
        "frames": decoded,
    }


def main() -> None:
    results = {name: measure(name, *case) for name, case in cases().items()}
    print(f"{'driver':<10} {'frames/s':>12} {'MB/s':>8}")
    for name, r in results.items():
        print(f"{name:<10} {r['frames_per_s']:>12,.0f} {r['bytes_per_s'] / 1e6:>8.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "python": platform.python_version(),
                "machine": platform.machine(),
                "seconds_per_driver": SECONDS_PER_DRIVER,
                "drivers": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"saved {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
