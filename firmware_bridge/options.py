"""Typed reading of a TOML table with errors that name the offending key."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pantau.errors import ConfigError

_MISSING = object()


class Options:
    """A view on one TOML table; ``where`` is its dotted path, used in error messages."""

    def __init__(self, table: Mapping[str, object], where: str) -> None:
        self._table = table
        self.where = where
        self._used: set[str] = set()

    @property
    def table(self) -> Mapping[str, object]:
        return self._table

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def _get(self, name: str, default: object) -> object:
        self._used.add(name)
        value = self._table.get(name, default)
        if value is _MISSING:
            raise ConfigError(f"{self.key(name)} is required")
        return value

    def has(self, name: str) -> bool:
        return name in self._table

    def get_str(self, name: str, default: object = _MISSING, *, choices: Sequence[str] = ()) -> str:
        value = self._get(name, default)
        if not isinstance(value, str):
            raise ConfigError(f"{self.key(name)} must be a string, got {value!r}")
        if choices and value not in choices:
            raise ConfigError(
                f"{self.key(name)} must be one of {', '.join(choices)}; got {value!r}"
            )
        return value

    def get_int(
        self,
        name: str,
        default: object = _MISSING,
        *,
        low: int | None = None,
        high: int | None = None,
    ) -> int:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.key(name)} must be an integer, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(f"{self.key(name)} must be between {low} and {high}; got {value}")
        return value

    def get_float(
        self, name: str, default: object = _MISSING, *, low: float | None = None
    ) -> float:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self.key(name)} must be a number, got {value!r}")
        result = float(value)
        if not math.isfinite(result) or (low is not None and result < low):
            raise ConfigError(f"{self.key(name)} must be a finite number >= {low}; got {value}")
        return result

    def get_bool(self, name: str, default: object = _MISSING) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)} must be true or false, got {value!r}")
        return value

    def get_table(self, name: str) -> Options:
        value = self._get(name, {})
        if not isinstance(value, Mapping):
            raise ConfigError(f"{self.key(name)} must be a table")
        return Options(value, self.key(name))

    def get_str_list(self, name: str, default: object = _MISSING) -> list[str]:
        value = self._get(name, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.key(name)} must be a list of strings, got {value!r}")
        return list(value)

    def reject_unknown(self) -> None:
        """Fail on keys nobody read: a typo in a config file should not be silent."""
        unknown = sorted(set(self._table) - self._used)
        if unknown:
            raise ConfigError(f"{self.key(unknown[0])} is not a known setting")

    def get_table_list(self, name: str) -> list[Options]:
        value = self._get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise ConfigError(f"{self.key(name)} must be a list of tables ([[{name}]])")
        return [Options(v, f"{self.key(name)}[{i}]") for i, v in enumerate(value)]
