"""Rules in SQL (create, list, update, delete) and the :class:`RuleBook` the engine uses.

The book is the shipped defaults overlaid by the rules in SQL: a stored rule with
a default's id replaces it (store it with ``enabled=False`` to switch it off).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, fields

import sqlalchemy as sa
from sqlalchemy import Engine

from alerts.rules import DEFAULT_RULES, Rule, validate
from alerts.tables import alert_rules
from pantau.errors import Conflict, NotFound

_FIELDS = tuple(f.name for f in fields(Rule))


class RuleBook:
    """An immutable set of rules, looked up by kind."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._by_kind: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if rule.enabled:
                self._by_kind.setdefault(rule.kind, []).append(rule)

    def of_kind(self, *kinds: str) -> list[Rule]:
        return [rule for kind in kinds for rule in self._by_kind.get(kind, [])]

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @classmethod
    def defaults(cls) -> RuleBook:
        return cls(DEFAULT_RULES)


def _from_row(row: sa.Row[tuple[object, ...]]) -> Rule:
    values = {name: row._mapping[name] for name in _FIELDS}
    return Rule(**values)


class RuleStore:
    """Rule CRUD in SQL; every write is validated first."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def stored(self) -> list[Rule]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(alert_rules).order_by(alert_rules.c.id)).all()
        return [_from_row(r) for r in rows]

    def book(self) -> RuleBook:
        """Defaults overlaid by the stored rules."""
        stored = {rule.id: rule for rule in self.stored()}
        merged = [stored.pop(rule.id, rule) for rule in DEFAULT_RULES]
        return RuleBook([*merged, *stored.values()])

    def get(self, rule_id: str) -> Rule:
        rule = self.book().get(rule_id)
        if rule is None:
            raise NotFound(f"no alert rule with id {rule_id!r}")
        return rule

    def create(self, rule: Rule) -> Rule:
        rule = validate(rule)
        if self.book().get(rule.id) is not None:
            raise Conflict(f"an alert rule with id {rule.id!r} exists; update it with PUT")
        self._write(rule, insert=True)
        return rule

    def put(self, rule: Rule) -> Rule:
        """Create or replace (also how a shipped default is changed or disabled)."""
        rule = validate(rule)
        exists = any(r.id == rule.id for r in self.stored())
        self._write(rule, insert=not exists)
        return rule

    def delete(self, rule_id: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(alert_rules.delete().where(alert_rules.c.id == rule_id))
        if done.rowcount == 0:
            if any(r.id == rule_id for r in DEFAULT_RULES):
                raise Conflict(
                    f"{rule_id!r} is a shipped default; switch it off with enabled=false instead"
                )
            raise NotFound(f"no stored alert rule with id {rule_id!r}")

    def _write(self, rule: Rule, *, insert: bool) -> None:
        values = {**asdict(rule), "updated_ns": time.time_ns()}
        with self.engine.begin() as conn:
            if insert:
                conn.execute(alert_rules.insert().values(**values))
            else:
                conn.execute(
                    alert_rules.update().where(alert_rules.c.id == rule.id).values(**values)
                )
