"""The energy counter: integration, atomic saving, and a corrupt file kept aside."""

import json
import logging

import pytest

from zeropower.actuator_pwm.energy import EnergyCounter, EnergyFileError


def test_power_counts_until_the_next_update(tmp_path):
    counter = EnergyCounter(tmp_path / "energy.json")
    counter.update(0, 1000)
    counter.update(1800, 500)  # 1000 W for half an hour
    counter.update(5400, 0)  # 500 W for an hour
    counter.update(9000, 0)
    assert counter.energy_wh == pytest.approx(1000)


def test_saved_counter_loads_again_and_no_temporary_file_remains(tmp_path):
    path = tmp_path / "state" / "energy.json"
    counter = EnergyCounter(path, 12.5)
    counter.save()
    assert EnergyCounter.load(path).energy_wh == 12.5
    assert sorted(p.name for p in path.parent.iterdir()) == ["energy.json"]


def test_missing_file_starts_from_zero(tmp_path):
    assert EnergyCounter.load(tmp_path / "none.json").energy_wh == 0


@pytest.mark.parametrize("content", [b"{not json", b'{"energy_wh": -1}', b"[]", b'{"energy_wh": "12"}', b"\xff"])
def test_corrupt_file_is_kept_aside_with_a_warning(tmp_path, caplog, content):
    path = tmp_path / "energy.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        counter = EnergyCounter.load(path)
    assert counter.energy_wh == 0
    assert (tmp_path / "energy.json.corrupt").read_bytes() == content
    assert not path.exists()
    assert "is corrupt" in caplog.text
    counter.save()
    assert json.loads(path.read_text())["energy_wh"] == 0


def test_unreadable_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "energy.json"
    path.mkdir()
    with pytest.raises(EnergyFileError, match=r"energy\.json"):
        EnergyCounter.load(path)
