"""InfluxDB line protocol: one point as one line, with the escaping the protocol requires."""

from __future__ import annotations

FieldValue = float | int | str

_NAME_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\=", "\n": " "})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": " "})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': r"\"", "\n": " "})


def format_line(measurement: str, tags: dict[str, str], fields: dict[str, FieldValue], time_ns: int) -> str:
    """One point; tags sorted by key, empty tag values left out. ``fields`` must not be empty.

    Floats are written as floats, ints (used for on/off flags) with the ``i`` suffix, str as string fields.
    """
    head = measurement.translate(_MEASUREMENT_ESCAPES)
    for key in sorted(tags):
        if value := tags[key]:
            head += f",{key.translate(_NAME_ESCAPES)}={value.translate(_NAME_ESCAPES)}"
    body = ",".join(f"{key.translate(_NAME_ESCAPES)}={_field_value(value)}" for key, value in fields.items())
    return f"{head} {body} {time_ns}"


def _field_value(value: FieldValue) -> str:
    if isinstance(value, str):
        return f'"{value.translate(_STRING_ESCAPES)}"'
    if isinstance(value, int):
        return f"{value}i"
    return repr(value)
