"""Checksums and CRCs used by the serial sensor protocols (pure functions)."""

from __future__ import annotations


def sum16(data: bytes) -> int:
    """Sum of the bytes modulo 65536 (Plantower)."""
    return sum(data) & 0xFFFF


def sum8(data: bytes) -> int:
    """Sum of the bytes modulo 256 (Nova SDS01x, MCU680)."""
    return sum(data) & 0xFF


def _crc16_table(poly: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE_A001 = _crc16_table(0xA001)


def _crc16(data: bytes, crc: int) -> int:
    table = _TABLE_A001
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS: reflected 0xA001, init 0xFFFF, no final XOR."""
    return _crc16(data, 0xFFFF)


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC as used by SDI-12: reflected 0xA001, init 0x0000."""
    return _crc16(data, 0x0000)


def sdi12_crc_chars(data: bytes) -> bytes:
    """The three printable characters SDI-12 appends for ``data`` (address through last value)."""
    crc = crc16_arc(data)
    return bytes((0x40 | (crc >> 12), 0x40 | ((crc >> 6) & 0x3F), 0x40 | (crc & 0x3F)))
