"""The benchmark's scenario CSV format."""

import pytest

from bench.controller.scenario import Scenario, read_csv, write_csv


def test_rows_are_held_to_one_second(tmp_path):
    path = tmp_path / "own.csv"
    path.write_text("t_s,load_w,pv_avail_w\n36000,300,500\n36003,900,510\n36005,250,-4\n")
    scenario = read_csv(path)
    assert scenario.name == "own"
    assert scenario.start_s == 36000
    assert scenario.load_w == [300, 300, 300, 900, 900, 250]
    assert scenario.pv_avail_w == [500, 500, 500, 510, 510, 0]  # negative PV clamped


def test_write_and_read_back(tmp_path):
    scenario = Scenario("x", [100.0, 200.5, 300.0], [0.0, 10.0, 20.0], start_s=60)
    write_csv(scenario, tmp_path / "x.csv")
    assert read_csv(tmp_path / "x.csv") == scenario


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t_s,load_w\n0,1\n1,2\n", "missing column"),
        ("t_s,load_w,pv_avail_w\n0,1,1\n", "at least two rows"),
        ("t_s,load_w,pv_avail_w\n5,1,1\n5,2,2\n", "must increase"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_csv(path)
