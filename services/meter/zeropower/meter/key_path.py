"""Finding a value in a JSON document by a key path such as ``emeters/0/power`` or ``a.b.0.c``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

from zeropower.meter.reading import MeterError


def split_path(path: str) -> list[str]:
    """The parts of a key path: separated by ``/`` when it has one, else by ``.``; ``[0]`` means ``0``.

    An empty path means the whole document. Raises ValueError for an empty part (``a//b``).
    """
    if not path:
        return []
    separator = "/" if "/" in path else "."
    parts = [part.strip() for part in path.split(separator)]
    parts = [part[1:-1] if part.startswith("[") and part.endswith("]") else part for part in parts]
    if "" in parts:
        raise ValueError(f"key path {path!r} has an empty part")
    return parts


def _checked(path: str) -> str:
    split_path(path)
    return path


KeyPath = Annotated[str, AfterValidator(_checked)]
"""A key path in settings, checked when the configuration is loaded."""


def resolve(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``; MeterError naming the missing key or index otherwise."""
    current = document
    parts = split_path(path)
    for depth, part in enumerate(parts):
        where = "/".join(parts[:depth]) or "the top level"
        if isinstance(current, dict):
            if part not in current:
                keys = ", ".join(sorted(str(key) for key in current)[:12]) or "none"
                raise MeterError(f"no key {part!r} at {where} (keys there: {keys})")
            current = current[part]
        elif isinstance(current, list):
            if not part.lstrip("-").isdigit():
                raise MeterError(f"{where} is a list, so {part!r} must be an index")
            index = int(part)
            if not -len(current) <= index < len(current):
                raise MeterError(f"index {index} is out of range at {where} ({len(current)} items)")
            current = current[index]
        else:
            raise MeterError(f"cannot look up {part!r}: {where} is {type(current).__name__} {current!r:.40}")
    return current
