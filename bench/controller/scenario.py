"""A scenario: household load and available PV power at 1 s; read from and written to CSV (pure Python)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("t_s", "load_w", "pv_avail_w")


@dataclass(frozen=True)
class Scenario:
    """Load and PV at 1 s from ``start_s`` (seconds after midnight, for plots).

    ``pv_avail_w`` is the AC power the panels and inverter could deliver without a limit (before the
    inverter's nameplate clips it). With ``heater`` a diverter run: the controller drives the heater.
    """

    name: str
    load_w: list[float]
    pv_avail_w: list[float]
    start_s: int = 0
    heater: bool = False

    def head(self, seconds: int) -> Scenario:
        """The first ``seconds`` of the scenario."""
        return Scenario(self.name, self.load_w[:seconds], self.pv_avail_w[:seconds], self.start_s, self.heater)


def read_csv(path: Path, *, name: str | None = None, heater: bool = False) -> Scenario:
    """Read columns ``t_s,load_w,pv_avail_w``; rows at any spacing are held to 1 s (zero-order hold)."""
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (need {','.join(COLUMNS)})")
        rows = [(float(row["t_s"]), float(row["load_w"]), float(row["pv_avail_w"])) for row in reader]
    if len(rows) < 2:
        raise ValueError(f"{path}: needs at least two rows")
    for n in range(1, len(rows)):
        if rows[n][0] <= rows[n - 1][0]:
            raise ValueError(f"{path}: t_s must increase (row {n + 2})")
    start = rows[0][0]
    load: list[float] = []
    pv: list[float] = []
    row = 0
    for second in range(round(rows[-1][0] - start) + 1):
        while row + 1 < len(rows) and rows[row + 1][0] - start <= second:
            row += 1
        load.append(max(0.0, rows[row][1]))
        pv.append(max(0.0, rows[row][2]))
    return Scenario(name or path.stem, load, pv, start_s=round(start) % 86400, heater=heater)


def write_csv(scenario: Scenario, path: Path) -> None:
    """Write the scenario with t_s counted from midnight."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for n, (load, pv) in enumerate(zip(scenario.load_w, scenario.pv_avail_w, strict=True)):
            writer.writerow((scenario.start_s + n, f"{load:.1f}", f"{pv:.1f}"))
