"""Mapping rules: which topics become which measurement, tags and fields (see docs/services/recorder.md).

A rule's ``topic`` is a pattern of ``/``-separated segments:

- a literal segment, ``+`` (any one segment) or a final ``#`` (any rest, as in MQTT);
- ``{name}`` captures one segment, ``{name:regex}`` one segment matching the regex, ``{name+}`` one or more
  segments (``{service+}`` captures ``actuator/opendtu``);
- ``$prefix`` is zeropower's topic prefix, ``$dtu`` any of the OpenDTU prefixes.

Captures can become tags (``tags``) and name the field of a plain value (``value_field: "{field}"``).
"""

from __future__ import annotations

import re
import string
from typing import Self

from pydantic import Field, model_validator

from zeropower.shared.settings import StrictModel

_CAPTURE = re.compile(r"^\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>\+|:.+)?\}$")


class Rule(StrictModel):
    """How messages on matching topics become InfluxDB points."""

    topic: str = Field(min_length=1, description="Topic pattern (segments, +, #, {capture}, $prefix, $dtu).")
    measurement: str | None = Field(
        min_length=1, description="Measurement to write; null: matching messages are not recorded."
    )
    tags: list[str] = Field(default_factory=list, description="Topic captures that become tags.")
    fields: dict[str, str] | None = Field(
        None,
        description="JSON payloads: field name to dotted path (e.g. phases.0.power_w); null: every numeric leaf, "
        "flattened with '_'.",
    )
    value_field: str = Field(
        "value", min_length=1, description="Field of a plain number (or mapped text); may use captures: '{field}'."
    )
    values: dict[str, int] = Field(
        default_factory=dict, description="Text payloads mapped to integers, e.g. {online: 1, offline: 0}."
    )
    text_field: str | None = Field(
        None, description="Other text payloads become this string field; null: they are skipped."
    )
    each: str | None = Field(
        None, description="JSON path of an object: one point per entry, its key as tag each_tag, value as value_field."
    )
    each_tag: str = Field("key", min_length=1, description="Tag that holds the entry's key when 'each' is set.")
    time_key: str | None = Field(
        "timestamp", description="Payload key with the Unix time in s; the time of arrival when absent."
    )
    continue_matching: bool = Field(False, description="Apply later matching rules to the message as well.")

    @model_validator(mode="after")
    def _known_captures(self) -> Self:
        regex = compile_pattern(self.topic, "prefix", ["dtu"])
        captures = set(regex.groupindex)
        used = set(self.tags) | {name for _, name, _, _ in string.Formatter().parse(self.value_field) if name}
        if unknown := sorted(used - captures):
            raise ValueError(f"topic {self.topic!r} has no capture {', '.join(unknown)}")
        return self


def compile_pattern(pattern: str, prefix: str, dtu_prefixes: list[str]) -> re.Pattern[str]:
    """The regex matching a rule's topic pattern (a full match; named groups are the captures)."""
    segments = pattern.split("/")
    parts: list[str] = []
    for index, segment in enumerate(segments):
        if segment == "#":
            if index != len(segments) - 1:
                raise ValueError(f"'#' must be the last segment of {pattern!r}")
            return re.compile("/".join(parts) + ("(?:/.*)?" if parts else ".*"))
        parts.append(_segment_regex(segment, prefix, dtu_prefixes, pattern))
    try:
        return re.compile("/".join(parts))
    except re.error as error:
        raise ValueError(f"invalid topic pattern {pattern!r}: {error}") from None


def _segment_regex(segment: str, prefix: str, dtu_prefixes: list[str], pattern: str) -> str:
    if segment == "+":
        return "[^/]*"
    if segment == "$prefix":
        return re.escape(prefix)
    if segment == "$dtu":
        return f"(?:{'|'.join(re.escape(dtu) for dtu in dtu_prefixes)})" if dtu_prefixes else "(?!)"
    if match := _CAPTURE.match(segment):
        name, rest = match.group("name"), match.group("rest")
        if rest == "+":
            return f"(?P<{name}>.+)"
        return f"(?P<{name}>{rest[1:] if rest else '[^/]+'})"
    if "+" in segment or "#" in segment or "{" in segment:
        raise ValueError(f"invalid segment {segment!r} in topic pattern {pattern!r}")
    return re.escape(segment)


def _phase_fields() -> dict[str, str]:
    names = {"power_w": "power_w", "voltage_v": "voltage_v", "current_a": "current_a", "power_factor": "power_factor"}
    return {f"l{n + 1}_{field}": f"phases.{n}.{key}" for n in range(3) for field, key in names.items()}


def _same(*names: str) -> dict[str, str]:
    return {name: name for name in names}


def default_rules() -> list[Rule]:
    """The built-in mapping (the Grafana dashboard is built against it); first match wins."""
    return [
        Rule(
            topic="$prefix/meter/grid",
            measurement="grid",
            fields={**_same("power_w", "energy_import_wh", "energy_export_wh", "error"), **_phase_fields()},
        ),
        Rule(
            topic="$prefix/controller/state",
            measurement="controller",
            fields=_same(
                "enabled", "grid_power_w", "target_w", "output_w", "limit_w", "consumption_w", "mode", "reason"
            ),
            continue_matching=True,
        ),
        Rule(
            topic="$prefix/controller/state",
            measurement="setpoint",
            each="setpoints_w",
            each_tag="device_id",
            value_field="limit_w",
        ),
        Rule(
            topic="$prefix/actuator/{actuator_id}/device/{device_id}/state",
            measurement="device",
            tags=["actuator_id", "device_id"],
            fields=_same("reachable", "producing", "power_w", "dc_power_w", "limit_w", "duty", "energy_wh", "soc_pct"),
        ),
        Rule(
            topic="$prefix/actuator/{actuator_id}/state",
            measurement="actuator",
            tags=["actuator_id"],
            fields=_same("mode", "commands_sent"),
        ),
        Rule(
            topic="$prefix/{service+}/availability",
            measurement="availability",
            tags=["service"],
            value_field="online",
            values={"online": 1, "offline": 0},
        ),
        Rule(topic="$prefix/sim/state", measurement="sim"),
        Rule(
            topic="$prefix/recorder/state",
            measurement="recorder",
            fields=_same("received", "written", "spooled", "dropped", "rejected", "lag_s"),
        ),
        Rule(
            topic="$dtu/{serial}/{channel:[0-9]+}/{field}",
            measurement="opendtu",
            tags=["serial", "channel"],
            value_field="{field}",
        ),
        Rule(
            topic="$dtu/{serial}/status/{field}", measurement="opendtu_status", tags=["serial"], value_field="{field}"
        ),
        Rule(topic="{topic+}", measurement="mqtt", tags=["topic"]),
    ]
