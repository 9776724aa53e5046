"""InfluxDB's CPU per written point with Go's default collector and with Pantau's setting.

    python -m bench.influxgc [--packs 10000] [--quick]

``pantau services up`` starts InfluxDB with ``GOGC=400`` and ``GOMEMLIMIT`` at a
quarter of the machine's memory (``pantau.services.InfluxDB.environment``). This
bench runs two InfluxDB servers side by side, one with Go's defaults
(``GOGC=100``, no memory limit) and one as Pantau starts it, and feeds both the
lines ``pantau ingest`` writes for ``bench.ingest``'s 100-reading packs, 20 000
lines at a time, alternating which server goes first. Interleaving puts both under
the same load from the machine's neighbours, so their CPU per point compares even
when absolute figures drift. Prints CPU µs per point, points/s and peak RSS of
each; writes ``bench/results/influxgc.json``.
"""

from __future__ import annotations

import argparse
import uuid

from bench.ingest import ROOT, WRITE_CHUNK, environment, measured_write, now_ms, pack_lines
from bench.machine import save_results
from bench.proc import memory_kib
from pantau.services import InfluxDB, free_port
from pantau.store import InfluxStore

RESULTS = ROOT / "bench" / "results" / "influxgc.json"
GO_DEFAULTS = {"GOGC": "100", "GOMEMLIMIT": "off"}


class GoDefaultsInfluxDB(InfluxDB):
    """InfluxDB with Go's own collector settings, not the ones Pantau starts it with."""

    def environment(self) -> dict[str, str]:
        return {**super().environment(), **GO_DEFAULTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packs", type=int, default=10_000, help="100-reading packs")
    parser.add_argument("--quick", action="store_true", help="1 000 packs, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.packs = 1_000
    with environment() as env:  # its InfluxDB runs as Pantau starts it
        print(f"preparing the lines of {args.packs} packs …", flush=True)
        lines = pack_lines(env, args.packs, 100, now_ms() - 2 * 86_400_000)
        go_default = GoDefaultsInfluxDB(env.tmp / "influxdb_go_default", free_port())
        go_default.start()
        servers = {"go_default": go_default, "pantau": env.influxd}
        stores = {
            name: InfluxStore(url=s.url, database=f"gc_{uuid.uuid4().hex[:6]}", timeout=120)
            for name, s in servers.items()
        }
        cpu = dict.fromkeys(servers, 0.0)
        wall = dict.fromkeys(servers, 0.0)
        try:
            for store in stores.values():
                store.ensure_database()
            names = list(servers)
            for round_, first in enumerate(range(0, len(lines), WRITE_CHUNK)):
                if first % (10 * WRITE_CHUNK) == 0:
                    print(f"  {first:,} of {len(lines):,} lines to each", flush=True)
                for name in names if round_ % 2 == 0 else names[::-1]:
                    pid = servers[name].pid()
                    assert pid is not None
                    chunk = lines[first : first + WRITE_CHUNK]
                    chunk_cpu, chunk_seconds = measured_write(stores[name], pid, chunk)
                    cpu[name] += chunk_cpu
                    wall[name] += chunk_seconds
            peak = {n: memory_kib(s.pid() or 0).get("VmHWM", 0) / 1024 for n, s in servers.items()}
        finally:
            for store in stores.values():
                store.close()
            go_default.stop()
    runs = {
        name: {
            "cpu_us_per_point": cpu[name] / len(lines) * 1e6,
            "points_per_s": len(lines) / wall[name],
            "peak_rss_mib": peak[name],
        }
        for name in servers
    }
    ratio = runs["pantau"]["cpu_us_per_point"] / runs["go_default"]["cpu_us_per_point"]
    for name, run in runs.items():
        print(
            f"{name:12} {run['cpu_us_per_point']:5.2f} µs CPU per point  "
            f"{run['points_per_s']:9,.0f} points/s  peak RSS {run['peak_rss_mib']:4.0f} MiB"
        )
    print(f"pantau / go_default CPU per point: {ratio:.2f}")
    save_results(
        RESULTS,
        {
            "points": len(lines),
            "go_default_environment": GO_DEFAULTS,
            "runs": runs,
            "cpu_ratio": ratio,
        },
    )


if __name__ == "__main__":
    main()
