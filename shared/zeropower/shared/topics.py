"""The topic catalogue: every MQTT topic zeropower uses is built here (see docs/mqtt.md)."""

from __future__ import annotations

from dataclasses import dataclass


def actuator_service_id(actuator_id: str) -> str:
    """The service id of one actuator instance (its topics live below ``<prefix>/actuator/<id>/``)."""
    return f"actuator/{actuator_id}"


@dataclass(frozen=True)
class Topics:
    """zeropower's own topics below one prefix (default ``zeropower``)."""

    prefix: str = "zeropower"

    def availability(self, service_id: str) -> str:
        """Retained ``online``/``offline`` of one service (its last will)."""
        return f"{self.prefix}/{service_id}/availability"

    def grid_power(self) -> str:
        """Grid meter readings (GridReading), a stream, not retained."""
        return f"{self.prefix}/meter/grid"

    def set_enabled(self) -> str:
        """Command to turn zero-export control ``on`` or ``off`` (retained messages are honoured)."""
        return f"{self.prefix}/set/enabled"

    def controller_state(self) -> str:
        """The controller's state (ControllerState), retained."""
        return f"{self.prefix}/controller/state"

    def controller_config_set(self) -> str:
        """Command with the controller's tunables as JSON (ControllerTunables, partial allowed), retained."""
        return f"{self.prefix}/controller/config/set"

    def controller_config(self) -> str:
        """The controller's effective tunables (ControllerTunables), retained."""
        return f"{self.prefix}/controller/config"

    def actuator_announce(self, actuator_id: str) -> str:
        """An actuator's retained self-description (ActuatorAnnouncement)."""
        return f"{self.prefix}/actuator/{actuator_id}/announce"

    def actuator_setpoints(self, actuator_id: str) -> str:
        """Setpoints for one actuator's devices (SetpointCommand), controller to actuator, not retained."""
        return f"{self.prefix}/actuator/{actuator_id}/set"

    def actuator_state(self, actuator_id: str) -> str:
        """An actuator's own state (ActuatorState), retained."""
        return f"{self.prefix}/actuator/{actuator_id}/state"

    def device_state(self, actuator_id: str, device_id: str) -> str:
        """Normalised state of one device behind an actuator (DeviceState), retained."""
        return f"{self.prefix}/actuator/{actuator_id}/device/{device_id}/state"

    def recorder_state(self) -> str:
        """The recorder's health (RecorderState), retained."""
        return f"{self.prefix}/recorder/state"

    def sim_state(self) -> str:
        """The simulator's ground truth (SimState), a stream, not retained."""
        return f"{self.prefix}/sim/state"

    def sim_set(self, quantity: str) -> str:
        """Command to the simulator: override ``load_w`` or ``pv_w`` (a number) or ``auto``."""
        return f"{self.prefix}/sim/set/{quantity}"

    def sim_set_reachable(self, serial: str) -> str:
        """Command to the simulator: ``on``/``off`` switches one inverter's radio link (``+``: any)."""
        return f"{self.prefix}/sim/set/reachable/{serial}"

    def sim_set_dtu_telemetry(self) -> str:
        """Command to the simulator: ``on``/``off`` lets the simulated DTU publish its telemetry or not."""
        return f"{self.prefix}/sim/set/dtu_telemetry"

    def sim_pwm_duty(self, output_id: str) -> str:
        """The duty cycle (0-1) a simulated PWM output drives, retained: the simulated heater follows it."""
        return f"{self.prefix}/sim/pwm/{output_id}/duty"

    def setup(self, section: str) -> str:
        """A service section set up in the browser (its YAML section as JSON), API to service, retained."""
        return f"{self.prefix}/setup/{section}"

    def setup_status(self, service_id: str) -> str:
        """Where a service's section comes from and what it runs (SetupStatus), retained."""
        return f"{self.prefix}/{service_id}/setup_status"

    def energy_today(self) -> str:
        """The API's energy totals since local midnight (EnergyToday), retained."""
        return f"{self.prefix}/api/energy_today"

    def all_actuator_announcements(self) -> str:
        """Filter matching every actuator's announcement."""
        return self.actuator_announce("+")

    def all_device_states(self) -> str:
        """Filter matching every device state."""
        return self.device_state("+", "+")


#: OpenDTU's command subtopics below ``<prefix>/<serial>/`` (``src/MqttHandleInverter.cpp``).
OPENDTU_LIMIT_ABSOLUTE = "cmd/limit_nonpersistent_absolute"
OPENDTU_LIMIT_RELATIVE = "cmd/limit_nonpersistent_relative"
OPENDTU_POWER = "cmd/power"


@dataclass(frozen=True)
class OpenDtuTopics:
    """OpenDTU's topic layout below its configurable prefix (commonly ``solar``)."""

    prefix: str = "solar"

    def inverter(self, serial: str, subtopic: str) -> str:
        """A topic of one inverter, e.g. ``status/reachable`` or ``0/power``."""
        return f"{self.prefix}/{serial}/{subtopic}"

    def inverter_all(self, serial: str) -> str:
        """Filter matching every topic of one inverter."""
        return f"{self.prefix}/{serial}/#"

    def limit_command(self, serial: str) -> str:
        """Non-persistent absolute limit in W (OpenDTU ignores it when retained)."""
        return self.inverter(serial, OPENDTU_LIMIT_ABSOLUTE)

    def relative_limit_command(self, serial: str) -> str:
        """Non-persistent relative limit in %."""
        return self.inverter(serial, OPENDTU_LIMIT_RELATIVE)

    def power_command(self, serial: str) -> str:
        """Switch the inverter on (``1``) or off (``0``); OpenDTU applies it even when retained."""
        return self.inverter(serial, OPENDTU_POWER)

    def all_limit_commands(self) -> str:
        """Filter matching every command (limits, on/off) of every inverter."""
        return f"{self.prefix}/+/cmd/+"

    def dtu_status(self) -> str:
        """The DTU's own ``online``/``offline``."""
        return f"{self.prefix}/dtu/status"

    def ac_total(self, field: str) -> str:
        """Totals over all inverters, e.g. ``ac/power``."""
        return f"{self.prefix}/ac/{field}"

    def dc_total(self, field: str) -> str:
        """DC totals over all inverters, e.g. ``dc/power``."""
        return f"{self.prefix}/dc/{field}"

    def split(self, topic: str) -> tuple[str, str] | None:
        """Split an inverter topic into (serial, subtopic); None for other topics."""
        head = f"{self.prefix}/"
        if not topic.startswith(head):
            return None
        serial, _, subtopic = topic[len(head) :].partition("/")
        return (serial, subtopic) if subtopic else None


@dataclass(frozen=True)
class AhoyDtuTopics:
    """AhoyDTU's topic layout below its prefix (default ``inverter``), inverters named by name."""

    prefix: str = "inverter"

    def inverter(self, name: str, subtopic: str) -> str:
        """A topic of one inverter, e.g. ``ch0/P_AC`` or ``available``."""
        return f"{self.prefix}/{name}/{subtopic}"

    def inverter_all(self, name: str) -> str:
        """Filter matching every topic of one inverter."""
        return f"{self.prefix}/{name}/#"

    def limit_command(self, inverter_index: int) -> str:
        """Non-persistent limit command; payload ``600W`` (absolute) or ``70`` (%)."""
        return f"{self.prefix}/ctrl/limit/{inverter_index}"

    def split(self, topic: str) -> tuple[str, str] | None:
        """Split an inverter topic into (name, subtopic); None for other topics."""
        head = f"{self.prefix}/"
        if not topic.startswith(head):
            return None
        name, _, subtopic = topic[len(head) :].partition("/")
        return (name, subtopic) if subtopic and name != "ctrl" else None


@dataclass(frozen=True)
class HomeAssistantTopics:
    """Home Assistant's MQTT discovery layout below its discovery prefix (default ``homeassistant``)."""

    prefix: str = "homeassistant"

    def config(self, component: str, node_id: str, object_id: str) -> str:
        """The retained discovery config of one entity."""
        return f"{self.prefix}/{component}/{node_id}/{object_id}/config"

    def status(self) -> str:
        """Home Assistant's own ``online``/``offline`` (it asks for discovery again when ``online``)."""
        return f"{self.prefix}/status"
