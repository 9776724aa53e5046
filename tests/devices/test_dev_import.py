"""CSV import: good and bad files, the exact dry-run report, all-or-nothing real runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from devices.credentials import verify_password
from devices.importer import import_csv
from devices.model import Device
from devices.registry import Registry

TODAY = date(2026, 11, 22)
EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "devices.csv"
HEADER = "id,kind,zone,latitude,longitude,interval_s,metrics,siaga3,siaga2,siaga1,gateway\n"

BAD = HEADER + (
    "aq-001,air_quality,jababeka,-6.29,107.15,60,pm25;pm10,,,,\n"
    "aq-002,air_quality,jababka,-6.29,107.15,60,,,,,\n"
    "\n"
    "aq-003,air_quality,ejip,6.33,107.14,60,,,,,\n"
    "aq-001,air_quality,ejip,-6.33,107.14,60,,,,,\n"
    "aq-004,airquality,ejip,-6.33,107.14,0,pm2.5,,,,\n"
    "AQ 5,water_level,cikarang,107.14,-6.26,60,,150,80,200,\n"
    "# a comment line is skipped\n"
    "wl-006,water_level,cikarang,-6.26,107.14,sixty,,80,150,,gw-9\n"
    "aq-007,air_quality,ejip,-6.33,107.14,60,,,,,aq-001\n"
    "aq-008,rain,ejip,-6.33,107.14,60,rain,80,150,200,,extra\n"
    "aq-009,rain,muara-gembong,-5.99,107.04,300,rain,,,,\n"
)

BAD_REPORT = """\
bad.csv: 10 rows checked, 16 problems; nothing was changed
line 3, column zone: unknown zone 'jababka'; known zones: jababeka, mm2100, ejip, \
giic-deltamas, hyundai, lippo-cikarang, cikarang, kali-bekasi, cibitung, cbl, muara-gembong
line 5, column latitude: latitude 6.33 is outside Kabupaten Bekasi (-6.50..-5.90)
line 6, column id: id 'aq-001' is already used on line 2
line 7, column kind: unknown kind 'airquality'; known kinds: air_quality, water_level, rain, \
traffic, weather, gateway
line 7, column interval_s: interval_s must be a whole number of seconds from 1 to 86400, not '0'
line 7, column metrics: unknown metric 'pm2.5'; known: pm25, pm10, no2, so2, co, o3, hc, \
temperature, humidity, water_level, rain, vehicle_count, speed, occupancy, pm1, co2, pressure, \
battery
line 8, column id: id 'AQ 5' is not valid: use 2–63 lowercase letters, digits, '-' or '_', \
starting with a letter or digit
line 8, column latitude: latitude 107.14 is outside Kabupaten Bekasi (-6.50..-5.90); \
latitude and longitude look swapped
line 8, column longitude: longitude -6.26 is outside Kabupaten Bekasi (106.95..107.30); \
latitude and longitude look swapped
line 8, column siaga2: Siaga thresholds must rise: siaga3 < siaga2 < siaga1 (cm), not 150, 80, 200
line 10, column interval_s: interval_s must be a whole number of seconds from 1 to 86400, \
not 'sixty'
line 10, column siaga1: give all three Siaga thresholds (siaga3, siaga2, siaga1) or none
line 10, column gateway: gateway 'gw-9' is neither registered nor in this file
line 11, column gateway: 'aq-001' is not a gateway (its kind is air_quality)
line 12: 12 values but the header has 11 columns
line 13, column id: device 'aq-009' is already registered (status decommissioned); \
ids are never reused"""


def test_dry_run_reports_every_problem_exactly(
    registry: Registry, make_device: Callable[..., Device]
) -> None:
    registry.add(
        make_device("aq-009", kind="rain", zone="muara-gembong", latitude=-5.99, longitude=107.04)
    )
    registry.decommission("aq-009")
    version = registry.version()
    report = import_csv(registry, BAD, dry_run=True, source="bad.csv", today=TODAY)
    assert report.text() == BAD_REPORT
    assert not report.ok and not report.created
    assert registry.version() == version and len(registry.list()) == 1


def test_real_run_with_problems_changes_nothing(registry: Registry) -> None:
    report = import_csv(registry, BAD, dry_run=False, source="bad.csv", today=TODAY)
    assert not report.created and report.passwords == {}
    assert registry.list() == []


def test_example_file_dry_run_then_real_run(registry: Registry) -> None:
    text = EXAMPLE.read_text()
    dry = import_csv(registry, text, dry_run=True, source="devices.csv", today=TODAY)
    assert dry.text() == (
        "devices.csv: 6 rows checked, no problems; dry run, nothing was changed: gw-jbb-01, "
        "aq-jbb-001, aq-mm2-001, wl-ckr-001, rg-ckr-001, tr-ejip-001"
    )
    assert registry.list() == []
    real = import_csv(registry, text, dry_run=False, source="devices.csv", today=TODAY)
    assert real.created and real.ok
    assert real.text().startswith("devices.csv: 6 rows checked, 6 devices registered: gw-jbb-01")
    assert len(registry.list()) == 6
    wl = registry.get("wl-ckr-001")
    assert (wl.siaga, wl.owner, wl.install_date) == (
        (80.0, 150.0, 200.0),
        "BBWS Citarum",
        date(2026, 11, 3),
    )
    aq = registry.get("aq-jbb-001")
    assert aq.gateway == "gw-jbb-01" and aq.address == "Jl. Jababeka XII, tiang PJU 14"
    assert registry.get("aq-mm2-001").units == ("µg/m³", "µg/m³")
    hashes = registry.password_hashes()
    assert set(hashes) == set(real.passwords) and len(hashes) == 6
    assert verify_password(real.passwords["wl-ckr-001"], hashes["wl-ckr-001"])
    assert real.passwords["wl-ckr-001"] not in real.text()
    again = import_csv(registry, text, dry_run=True, source="devices.csv", today=TODAY)
    assert len(again.problems) == 6 and not again.created


def test_semicolon_excel_file_with_bom_and_decimal_commas(registry: Registry) -> None:
    text = "\ufeffid;kind;zone;latitude;longitude\r\naq-001;air_quality;ejip;-6,337;107,14\r\n"
    report = import_csv(registry, text, dry_run=False, source="x.csv", today=TODAY)
    assert report.created, report.text()
    assert registry.get("aq-001").latitude == -6.337


def test_header_problems(registry: Registry) -> None:
    report = import_csv(registry, "id,kind,colour\n", dry_run=True, source="h.csv", today=TODAY)
    assert report.text() == (
        "h.csv: 0 rows checked, 4 problems; nothing was changed\n"
        "line 1, column colour: unknown column 'colour'; known: id, kind, model, zone, latitude, "
        "longitude, address, install_date, interval_s, metrics, units, siaga3, siaga2, siaga1, "
        "status, owner, notes, gateway, requires_calibration, qc\n"
        "line 1, column zone: required column 'zone' is missing\n"
        "line 1, column latitude: required column 'latitude' is missing\n"
        "line 1, column longitude: required column 'longitude' is missing"
    )
    empty = import_csv(registry, "", dry_run=True, source="e.csv", today=TODAY)
    assert empty.text() == (
        "e.csv: 0 rows checked, 1 problem; nothing was changed\n"
        "line 1: the file is empty; it needs a header line"
    )
