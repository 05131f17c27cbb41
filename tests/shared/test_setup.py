"""parse_setup: every payload that is no valid section becomes a ValueError naming the cause, never another error."""

import re

import pytest
from pydantic import BaseModel

from zeropower.shared.setup import MAX_SETUP_BYTES, parse_setup


class Section(BaseModel):
    rated_w: float


@pytest.mark.parametrize(
    ("payload", "cause"),
    [
        (b"[" * 60_000, "nested too deeply to be a setup"),  # within the size limit: json raises RecursionError
        (b'{"a":' * 9_000 + b"1" + b"}" * 9_000, "nested too deeply to be a setup"),
        (b"\xff\xfe", "not JSON (JSONDecodeError at position 0)"),
        (b"9" * (MAX_SETUP_BYTES + 1), f"{MAX_SETUP_BYTES + 1} bytes, more than {MAX_SETUP_BYTES}"),
        (b"[]", "not a JSON object of the heater section"),
        (b'{"rated_w": "x"}', "heater.rated_w: Input should be a valid number"),
    ],
)
def test_a_payload_that_is_no_section_names_its_cause(payload, cause):
    with pytest.raises(ValueError, match=f"^{re.escape(cause)}"):
        parse_setup(Section, "heater", payload)


def test_a_valid_section_is_parsed():
    assert parse_setup(Section, "heater", b'{"rated_w": 2000}') == Section(rated_w=2000)
