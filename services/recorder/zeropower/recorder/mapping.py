"""Turning one MQTT message into InfluxDB line-protocol lines by the first matching rule(s)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from zeropower.recorder.line_protocol import FieldValue, format_line
from zeropower.recorder.rules import Rule, compile_pattern
from zeropower.shared.messages import MAX_TIMESTAMP

Payload = dict[str, Any] | float | str

#: Deepest JSON nesting whose leaves become fields; deeper leaves are left out.
MAX_DEPTH = 16
#: Topics whose matching rules are remembered (a broker's topics repeat); beyond, the memory starts afresh.
MAX_CACHED_TOPICS = 10_000

#: The rules a topic matches, in order, with their captures.
_Matches = tuple[tuple[Rule, dict[str, str]], ...]


@dataclass(frozen=True)
class _CompiledRule:
    rule: Rule
    regex: re.Pattern[str]


class Mapper:
    """Applies the rules in order: the first match decides, unless it says ``continue_matching``."""

    def __init__(self, rules: list[Rule], prefix: str, dtu_prefixes: list[str]) -> None:
        self._rules = [_CompiledRule(rule, compile_pattern(rule.topic, prefix, dtu_prefixes)) for rule in rules]
        self._matches: dict[str, _Matches] = {}

    def lines(self, topic: str, payload: bytes, arrival_ns: int) -> list[str]:
        """The points of one message; empty when no rule records it or it carries no usable value."""
        matches = self._matches.get(topic)
        if matches is None:
            matches = self._match(topic)
        if not matches:
            return []
        decoded = decode_payload(payload)
        lines: list[str] = []
        for rule, captures in matches:
            lines += _apply(rule, captures, decoded, arrival_ns)
        return lines

    def _match(self, topic: str) -> _Matches:
        """The rules that apply to ``topic``: up to the first that does not continue matching."""
        matches: list[tuple[Rule, dict[str, str]]] = []
        for compiled in self._rules:
            match = compiled.regex.fullmatch(topic)
            if match is None:
                continue
            matches.append((compiled.rule, match.groupdict()))
            if not compiled.rule.continue_matching:
                break
        if len(self._matches) >= MAX_CACHED_TOPICS:
            self._matches.clear()
        self._matches[topic] = result = tuple(matches)
        return result


def decode_payload(payload: bytes) -> Payload:
    """A JSON object as dict, a plain number as float, anything else (also JSON nested too deep) as stripped text."""
    text = payload.decode(errors="replace").strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            return text
        return document if isinstance(document, dict) else text
    try:
        return float(text)
    except ValueError:
        return text


def _apply(rule: Rule, captures: dict[str, str], payload: Payload, arrival_ns: int) -> list[str]:
    if rule.measurement is None:
        return []
    tags = {name: captures[name] for name in rule.tags}
    if isinstance(payload, dict):
        return _object_lines(rule, rule.measurement, tags, payload, arrival_ns)
    value_field = rule.value_field.format(**captures) if "{" in rule.value_field else rule.value_field
    fields: dict[str, FieldValue] = {}
    if isinstance(payload, float):
        if math.isfinite(payload):
            fields[value_field] = payload
    elif payload in rule.values:
        fields[value_field] = rule.values[payload]
    elif rule.text_field is not None and payload:
        fields[rule.text_field] = payload
    return [format_line(rule.measurement, tags, fields, arrival_ns)] if fields else []


def _object_lines(
    rule: Rule, measurement: str, tags: dict[str, str], document: dict[str, Any], arrival_ns: int
) -> list[str]:
    time_ns = _payload_time_ns(document.get(rule.time_key)) if rule.time_key else None
    time_ns = time_ns or arrival_ns
    if rule.each is not None:
        entries = _lookup(document, rule.each)
        if not isinstance(entries, dict):
            return []
        lines = []
        for key, value in entries.items():
            field = _field_value(value, strings=False)
            if field is not None:
                point_tags = {**tags, rule.each_tag: str(key)}
                lines.append(format_line(measurement, point_tags, {rule.value_field: field}, time_ns))
        return lines
    if rule.fields is not None:
        fields = {name: _field_value(_lookup(document, path), strings=True) for name, path in rule.fields.items()}
    else:
        fields = {name: _field_value(value, strings=False) for name, value in _leaves(document, "")}
        fields.pop(rule.time_key or "", None)
    present = {name: value for name, value in fields.items() if value is not None}
    return [format_line(measurement, tags, present, time_ns)] if present else []


def _payload_time_ns(value: Any) -> int | None:
    """A payload's Unix time in s as ns; None unless it is a number within the messages' bounds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= MAX_TIMESTAMP:
        return int(value * 1_000_000_000)
    return None


def _field_value(value: Any, *, strings: bool) -> FieldValue | None:
    """Booleans as int 1/0, numbers as float, strings only where asked for; None for anything else."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    if strings and isinstance(value, str):
        return value
    return None


def _lookup(document: Any, path: str) -> Any:
    """The value at a dotted path (list items by index), or None."""
    for key in path.split("."):
        if isinstance(document, dict):
            document = document.get(key)
        elif isinstance(document, list) and key.isdigit() and int(key) < len(document):
            document = document[int(key)]
        else:
            return None
    return document


def _leaves(value: Any, name: str, depth: int = 0) -> list[tuple[str, Any]]:
    """Every scalar below a JSON value up to MAX_DEPTH levels, named by its path joined with '_'."""
    if isinstance(value, dict):
        items: list[tuple[str, Any]] = list(value.items())
    elif isinstance(value, list):
        items = [(str(index), item) for index, item in enumerate(value)]
    else:
        return [(name, value)]
    if depth == MAX_DEPTH:
        return []
    return [leaf for key, item in items for leaf in _leaves(item, f"{name}_{key}" if name else str(key), depth + 1)]
