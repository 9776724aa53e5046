"""Firmware bridge: serial-port sensor drivers and the serial→MQTT bridge for a field gateway.

Depends only on the kernel package (:mod:`pantau`), pyserial (inside
:mod:`firmware_bridge.serial_link`) and paho-mqtt (through :mod:`pantau.mqtt`).
"""

__version__ = "0.1.0"
