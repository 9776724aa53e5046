"""Sensor drivers, one module per sensor family, and the registry that names them."""

from __future__ import annotations

from collections.abc import Callable

from firmware_bridge.driver import Driver
from firmware_bridge.drivers import (
    hpma115,
    maxbotix,
    mcu680,
    mhz19,
    modbus,
    plantower,
    rg15,
    sdi12,
    sds011,
    sps30,
)
from firmware_bridge.options import Options

DRIVERS: dict[str, Callable[[Options], Driver]] = {
    "plantower": plantower.driver,
    "sds011": sds011.driver,
    "maxbotix": maxbotix.driver,
    "sdi12": sdi12.driver,
    "rg15": rg15.driver,
    "modbus": modbus.driver,
    "mhz19": mhz19.driver,
    "hpma115": hpma115.driver,
    "sps30": sps30.driver,
    "mcu680": mcu680.driver,
}
