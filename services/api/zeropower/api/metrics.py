"""Prometheus metrics, collected from the gateway's snapshot at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from zeropower.api.gateway import Gateway


class GatewayCollector(Collector):
    """Exports the newest grid reading, setpoints, diverters, today's energy, availability and message counters."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def collect(self) -> Iterator[Metric]:
        """Yield every metric family from the current snapshot."""
        snapshot = self._gateway.snapshot
        grid = snapshot.grid
        power = GaugeMetricFamily("zeropower_grid_power_watts", "Grid power in W (positive = import).")
        if grid is not None and grid.power_w is not None:
            power.add_metric([], grid.power_w)
        yield power
        imported = CounterMetricFamily(
            "zeropower_grid_imported_energy_wh",
            "Energy imported from the grid in Wh, netted across phases: the meter service's published counter.",
            labels=[],
        )
        exported = CounterMetricFamily(
            "zeropower_grid_exported_energy_wh",
            "Energy exported to the grid in Wh, netted across phases: the meter service's published counter.",
            labels=[],
        )
        if grid is not None and grid.energy_import_wh is not None:
            imported.add_metric([], grid.energy_import_wh)
        if grid is not None and grid.energy_export_wh is not None:
            exported.add_metric([], grid.energy_export_wh)
        yield imported
        yield exported
        setpoints = GaugeMetricFamily(
            "zeropower_setpoint_watts", "The controller's setpoint per device in W.", labels=["device"]
        )
        controller = snapshot.controller
        if controller is not None:
            for device_id, limit_w in sorted(controller.setpoints_w.items()):
                setpoints.add_metric([device_id], limit_w)
        yield setpoints
        yield from self._diverters()
        yield from self._storages()
        yield self._energy_today()
        enabled = GaugeMetricFamily("zeropower_enabled", "1 when zero-export control is switched on.")
        if self._gateway.enabled is not None:
            enabled.add_metric([], 1.0 if self._gateway.enabled else 0.0)
        yield enabled
        available = GaugeMetricFamily(
            "zeropower_service_available", "1 when the service is online, 0 when offline.", labels=["service"]
        )
        for service_id, state in sorted(snapshot.availability.items()):
            available.add_metric([service_id], 1.0 if state == "online" else 0.0)
        yield available
        received = CounterMetricFamily("zeropower_api_messages_received", "MQTT messages the API received.")
        received.add_metric([], self._gateway.counters.received)
        yield received
        invalid = CounterMetricFamily("zeropower_api_invalid_messages", "MQTT messages the API could not parse.")
        invalid.add_metric([], self._gateway.counters.invalid)
        yield invalid
        connected = GaugeMetricFamily("zeropower_api_broker_connected", "1 while the API is connected to the broker.")
        connected.add_metric([], 1.0 if self._gateway.connected else 0.0)
        yield connected

    def _diverters(self) -> Iterator[Metric]:
        """Power, duty and energy counter of every consumer device (diverter)."""
        labels = ["actuator", "device"]
        power = GaugeMetricFamily(
            "zeropower_diverter_power_watts", "A diverter's (estimated) power draw in W.", labels=labels
        )
        duty = GaugeMetricFamily("zeropower_diverter_duty_ratio", "A diverter's PWM duty cycle (0-1).", labels=labels)
        energy = CounterMetricFamily(
            "zeropower_diverter_energy_wh", "A diverter's own energy counter in Wh.", labels=labels
        )
        for (actuator_id, device_id), state in self._gateway.snapshot.consumers().items():
            for family, value in ((power, state.power_w), (duty, state.duty), (energy, state.energy_wh)):
                if value is not None:
                    family.add_metric([actuator_id, device_id], value)
        yield from (power, duty, energy)

    def _storages(self) -> Iterator[Metric]:
        """Power, state of charge and reserve of every storage device (battery)."""
        labels = ["actuator", "device"]
        power = GaugeMetricFamily(
            "zeropower_storage_power_watts",
            "A battery's power at its terminals in W (positive = charging, negative = discharging).",
            labels=labels,
        )
        soc = GaugeMetricFamily(
            "zeropower_storage_soc_ratio", "A battery's state of charge (0-1); absent while unknown.", labels=labels
        )
        reserve = GaugeMetricFamily(
            "zeropower_storage_reserve_soc_ratio",
            "A battery's reserve (0-1): its actuator lets it discharge only above this state of charge.",
            labels=labels,
        )
        snapshot = self._gateway.snapshot
        for key, state in snapshot.storages().items():
            info = snapshot.announced[key].storage
            for family, value in (
                (power, state.power_w),
                (soc, None if state.soc_pct is None else state.soc_pct / 100),
                (reserve, None if info is None else info.min_soc_pct / 100),
            ):
                if value is not None:
                    family.add_metric(list(key), value)
        yield from (power, soc, reserve)

    def _energy_today(self) -> Metric:
        """Energy imported, exported, produced and diverted since local midnight (a gauge: it restarts every day)."""
        today = GaugeMetricFamily(
            "zeropower_energy_today_wh",
            "Energy since local midnight in Wh, by direction (imported, exported, produced, diverted).",
            labels=["direction"],
        )
        totals = self._gateway.energy.totals()
        for direction, value in (
            ("imported", totals.imported_wh),
            ("exported", totals.exported_wh),
            ("produced", totals.produced_wh),
            ("diverted", totals.diverted_wh),
        ):
            if value is not None:
                today.add_metric([direction], value)
        return today


def registry_for(gateway: Gateway) -> CollectorRegistry:
    """A registry of its own per app (no global state shared between apps or tests)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(gateway))
    return registry
