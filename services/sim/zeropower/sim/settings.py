"""Simulator settings: the household, the sun, the inverters and the emulated devices."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, model_validator

from zeropower.shared.settings import ServiceSettings, StrictModel

Phase = Literal["a", "b", "c"]


class ApplianceSettings(StrictModel):
    """An appliance that switches on for ``on_s`` once every ``every_s`` (a kettle, a fridge's compressor)."""

    name: str = Field(description="Name, for the docs and logs.")
    power_w: float = Field(gt=0, description="Power while on in W.")
    on_s: float = Field(gt=0, description="How long it stays on each time, in s.")
    every_s: float = Field(gt=0, description="Period: it switches on once every this many s.")
    first_on_s: float = Field(0.0, ge=0, description="When it first switches on, in s after the start.")
    phase: Phase = Field("a", description="Grid phase it is connected to: a, b or c.")

    @model_validator(mode="after")
    def _off_between_cycles(self) -> Self:
        if self.on_s >= self.every_s:
            raise ValueError("on_s must be shorter than every_s")
        return self


def _default_appliances() -> list[ApplianceSettings]:
    return [
        ApplianceSettings(name="kettle", power_w=2000, on_s=60, every_s=300, first_on_s=90, phase="b"),
        ApplianceSettings(name="fridge", power_w=120, on_s=420, every_s=1200, first_on_s=20, phase="c"),
    ]


class LoadSettings(StrictModel):
    """The household's consumption: a base load with slow noise, plus periodic appliances."""

    base_w: float = Field(300.0, ge=0, description="Base load in W, spread 45/35/20 % over phases a/b/c.")
    noise_w: float = Field(15.0, ge=0, description="Standard deviation of the base load's slow wander in W.")
    noise_time_constant_s: float = Field(5.0, gt=0, description="How quickly the wander changes, in s.")
    appliances: list[ApplianceSettings] = Field(
        default_factory=_default_appliances, description="Appliances switching on and off periodically."
    )


class CloudSettings(StrictModel):
    """Passing clouds: random dips of the PV power with soft edges."""

    per_hour: float = Field(6.0, ge=0, description="Average number of clouds per hour (0 = clear sky).")
    depth: float = Field(
        0.6, ge=0, le=1, description="Deepest dip as a share of the PV power (each cloud: half to all of it)."
    )
    duration_s: float = Field(60.0, gt=0, description="Average time a cloud covers the sun, in s.")
    edge_s: float = Field(10.0, ge=0, description="How long a cloud takes to fade in and out, in s.")


class ConstantPv(StrictModel):
    """The sun gives the same power all the time, apart from clouds."""

    kind: Literal["constant"] = Field("constant", description="Profile type.")
    power_w: float = Field(1000.0, ge=0, description="PV power the panels could deliver in W, all inverters together.")
    clouds: CloudSettings = Field(default_factory=CloudSettings, description="Passing clouds.")


class DayCurvePv(StrictModel):
    """The sun rises and sets on a sine curve, optionally sped up for demos; plus clouds."""

    kind: Literal["day"] = Field(description="Profile type.")
    peak_w: float = Field(1000.0, ge=0, description="PV power at noon in W, all inverters together.")
    sunrise_h: float = Field(6.0, ge=0, lt=24, description="Hour of sunrise (0-24).")
    sunset_h: float = Field(20.0, gt=0, le=24, description="Hour of sunset (0-24).")
    start_h: float = Field(12.0, ge=0, lt=24, description="Simulated time of day when the simulator starts, in hours.")
    time_lapse: float = Field(1.0, gt=0, description="Simulated day seconds per real second (60 = an hour a minute).")
    clouds: CloudSettings = Field(default_factory=CloudSettings, description="Passing clouds.")

    @model_validator(mode="after")
    def _sunrise_before_sunset(self) -> Self:
        if self.sunrise_h >= self.sunset_h:
            raise ValueError("sunrise_h must be before sunset_h")
        return self


PvSettings = Annotated[ConstantPv | DayCurvePv, Field(discriminator="kind")]


class InverterSettings(StrictModel):
    """One simulated Hoymiles micro-inverter."""

    serial: str = Field(pattern=r"^[0-9A-Fa-f]{12}$", description="Serial number (12 hex digits), as OpenDTU shows it.")
    name: str = Field(description="Name OpenDTU publishes for it.")
    max_w: float = Field(gt=0, le=3000, description="Nameplate AC power in W (e.g. 800 for an HM-800).")
    dead_time_s: float = Field(
        4.0, ge=0, le=60, description="Time before it follows a new limit, in s (HM-600 ~3 s, HM-1500 up to ~18 s)."
    )
    ramp_w_per_s: float = Field(100.0, gt=0, description="How fast its output moves towards a new limit, in W/s.")
    phase: Phase = Field("a", description="Grid phase it feeds into: a, b or c.")
    dc_channels: int = Field(2, ge=1, le=6, description="Number of DC inputs (panels).")


def _default_inverters() -> list[InverterSettings]:
    return [
        InverterSettings(serial="114182912345", name="roof", max_w=800, dead_time_s=4.0, phase="a"),
        InverterSettings(serial="112182954321", name="balcony", max_w=400, dead_time_s=3.0, phase="a", dc_channels=1),
    ]


class HeaterSettings(StrictModel):
    """A resistive heater behind a PWM-driven power controller (the surplus diverter's load)."""

    output_id: str = Field(
        "heater", pattern=r"^[^#+/]+$", description="The simulated PWM output it follows (actuator-pwm's sim output)."
    )
    rated_w: float = Field(2000.0, gt=0, description="Power at full duty in W.")
    controller: Literal["linear", "phase_fired"] = Field(
        "phase_fired",
        description="How duty becomes power: linear (solid-state relay) or phase_fired (duty sets the firing angle).",
    )
    phase: Phase = Field("a", description="Grid phase it is connected to: a, b or c.")


class BatterySettings(StrictModel):
    """A home battery: its cells, its inverter's limits and how fast it follows a new power."""

    name: str = Field("battery", pattern=r"^[^#+/]+$", description="Name, for the docs and logs.")
    capacity_wh: float = Field(2000.0, gt=0, description="Usable energy between 0 and 100 % state of charge in Wh.")
    soc_pct: float = Field(50.0, ge=0, le=100, description="State of charge at the start in %.")
    max_charge_w: float = Field(1200.0, gt=0, description="Highest charging power at its AC terminals in W.")
    max_discharge_w: float = Field(800.0, gt=0, description="Highest discharging power at its AC terminals in W.")
    round_trip_efficiency: float = Field(
        0.9, gt=0, le=1, description="Energy out over energy in; lost half on charging, half on discharging."
    )
    dead_time_s: float = Field(1.0, ge=0, description="Time before it starts to follow a new power, in s.")
    ramp_w_per_s: float = Field(400.0, gt=0, description="How fast its power moves towards a new one, in W/s.")
    empty_pct: float = Field(5.0, ge=0, lt=100, description="Its BMS stops discharging at this state of charge in %.")
    phase: Phase = Field("a", description="Grid phase it is connected to: a, b or c.")
    protocol: Literal["zendure", "marstek_venus", "opendtu"] = Field(
        "zendure",
        description="How it is served: zendure (a Zendure SolarFlow on HTTP, settings in zendure), "
        "marstek_venus (a Marstek Venus E on its UDP Open API, settings in marstek) or opendtu (on the DC side of "
        "a Hoymiles behind the simulated OpenDTU, its BMS and charge controller on MQTT, settings in "
        "battery_inverter; max_charge_w and max_discharge_w are not used).",
    )


class ShellySettings(StrictModel):
    """The emulated Shelly Pro 3EM grid meter (HTTP)."""

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 for every interface).")
    port: int = Field(8081, ge=0, le=65535, description="Port to listen on (0 = any free port).")
    password: SecretStr | None = Field(
        None, description="Password of user admin: Gen2 endpoints then need Digest auth, /status Basic auth."
    )
    device_id: str = Field(
        "shellypro3em-c8f09e8a7b6c", pattern=r"^[a-z0-9-]+$", description="Device id; also the Digest auth realm."
    )
    noise_w: float = Field(2.0, ge=0, description="Standard deviation of the measurement noise per phase in W.")


class ZendureSettings(StrictModel):
    """The emulated Zendure SolarFlow (zenSDK local HTTP API), serving the battery when there is one."""

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 for every interface).")
    port: int = Field(8082, ge=0, le=65535, description="Port to listen on (0 = any free port).")
    serial: str = Field(
        "HOA1NAH4N230123", pattern=r"^[A-Za-z0-9]+$", description="The device's serial number (sn), needed by writes."
    )
    product: str = Field("solarFlow800Pro", description="The product name its report carries.")


class MarstekEmulatorSettings(StrictModel):
    """The emulated Marstek Venus E (UDP Open API), serving the battery when its protocol is marstek_venus."""

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 for every interface).")
    port: int = Field(30000, ge=0, le=65535, description="UDP port to listen on (0 = any free port).")
    device: str = Field("VenusE 3.0", min_length=1, description="Model name it reports, as a Venus E 3.0 does.")
    ble_mac: str = Field(
        "a0b1c2d3e4f5", pattern=r"^[0-9a-f]{12}$", description="Bluetooth MAC it reports; also names it in src."
    )
    wifi_mac: str = Field("a0b1c2d3e4f6", pattern=r"^[0-9a-f]{12}$", description="Wi-Fi MAC it reports.")
    firmware: int = Field(144, ge=0, description="Firmware version (ver) it reports.")


class BatteryInverterSettings(StrictModel):
    """A battery-powered Hoymiles behind the simulated OpenDTU, its BMS and DC solar charge controller on MQTT.

    Only with a battery whose protocol is opendtu.
    """

    serial: str = Field(
        "116180000001", pattern=r"^[0-9A-Fa-f]{12}$", description="The inverter's serial number (12 hex digits)."
    )
    name: str = Field("battery inverter", description="Name OpenDTU publishes for it.")
    max_w: float = Field(800.0, gt=0, le=3000, description="Nameplate AC power in W.")
    dead_time_s: float = Field(4.0, ge=0, le=60, description="Time before it follows a new limit or on/off, in s.")
    ramp_w_per_s: float = Field(100.0, gt=0, description="How fast its output moves towards a new limit, in W/s.")
    start_ramp_w_per_s: float = Field(
        2.0,
        gt=0,
        description="How fast its output rises after it was switched on (cmd/power 1), in W/s: a Hoymiles soft-starts "
        "(minutes to full power).",
    )
    persistent_limit_w: float = Field(
        16.0,
        ge=0,
        description="Its persistent limit in W, in force at the start until a non-persistent one comes (set low in "
        "OpenDTU, as docs/services/battery-opendtu.md advises; 2 % of max_w at least).",
    )
    phase: Phase = Field("a", description="Grid phase it feeds into: a, b or c.")
    bms_topic: str = Field(
        "daly_bms",
        min_length=1,
        pattern=r"^[^#+]+$",
        description="Topic of the BMS bridge's JSON (retained, as dreadnought/python-daly-bms daly-bms-cli --soc "
        '--mqtt: {"total_voltage": V, "current": A, "soc_percent": %}).',
    )
    bms_interval_s: float = Field(2.0, gt=0, description="How often the BMS bridge publishes, in s.")
    empty_voltage_v: float = Field(46.0, gt=0, description="Battery voltage at 0 % state of charge in V.")
    full_voltage_v: float = Field(54.0, gt=0, description="Battery voltage at 100 % state of charge in V (linear).")
    solar_w: float | None = Field(
        None,
        ge=0,
        description="DC solar power a charge controller feeds into the battery side, in W; none: no charge "
        "controller (nothing published on charger_topic).",
    )
    charger_topic: str = Field(
        "victron/mppt/power",
        min_length=1,
        pattern=r"^[^#+]+$",
        description="Topic the charge controller's output power (W, a plain number) is published on.",
    )

    @model_validator(mode="after")
    def _voltages(self) -> Self:
        if self.empty_voltage_v >= self.full_voltage_v:
            raise ValueError("empty_voltage_v must be below full_voltage_v")
        return self


class OpenDtuSettings(StrictModel):
    """The emulated OpenDTU (MQTT)."""

    prefix: str = Field("solar", min_length=1, pattern=r"^[^#+]+$", description="OpenDTU's MQTT topic prefix.")
    publish_interval_s: float = Field(5.0, gt=0, description="How often the inverter data is published, in s.")
    retain: bool = Field(True, description="Publish the data retained (OpenDTU's default).")
    command_s: float = Field(
        2.0,
        ge=0,
        le=30,
        description="How long the DTU's one radio is busy with a limit command until the inverter acknowledges it, "
        "in s (~2 s, ~4 s with a retry). Commands are served one at a time, inverter after inverter; a newer "
        "command for an inverter still queued replaces it. The limit read-back changes on the acknowledgement. "
        "0 = at once.",
    )


class SimSettings(StrictModel):
    """The simulated household: load, PV, inverters, and the devices it emulates."""

    step_s: float = Field(0.1, gt=0, le=1, description="Time step of the plant model in s.")
    state_interval_s: float = Field(1.0, gt=0, description="How often the ground truth (SimState) is published, in s.")
    seed: int = Field(1, description="Seed of the random numbers (load noise, clouds, meter noise).")
    load: LoadSettings = Field(default_factory=LoadSettings, description="Household load.")
    pv: PvSettings = Field(default_factory=ConstantPv, description="PV availability: constant or a day curve.")
    inverters: list[InverterSettings] = Field(
        default_factory=_default_inverters, min_length=1, description="The Hoymiles inverters."
    )
    heater: HeaterSettings | None = Field(None, description="A heater driven by a simulated PWM output; none if unset.")
    battery: BatterySettings | None = Field(
        None,
        description="A home battery, served as a Zendure SolarFlow on HTTP, a Marstek Venus on UDP or on the DC side "
        "of a Hoymiles behind the OpenDTU (battery.protocol); none if unset.",
    )
    zendure: ZendureSettings = Field(
        default_factory=ZendureSettings,
        description="The emulated Zendure device (only with a battery whose protocol is zendure).",
    )
    marstek: MarstekEmulatorSettings = Field(
        default_factory=MarstekEmulatorSettings,
        description="The emulated Marstek Venus (only with a battery whose protocol is marstek_venus).",
    )
    battery_inverter: BatteryInverterSettings = Field(
        default_factory=BatteryInverterSettings,
        description="The battery-powered Hoymiles and its BMS (only with a battery whose protocol is opendtu).",
    )
    shelly: ShellySettings = Field(default_factory=ShellySettings, description="The emulated grid meter.")
    opendtu: OpenDtuSettings = Field(default_factory=OpenDtuSettings, description="The emulated OpenDTU.")

    @model_validator(mode="after")
    def _unique_serials(self) -> Self:
        seen: set[str] = set()
        for index, inverter in enumerate(self.inverters):
            if inverter.serial in seen:
                raise ValueError(f"inverters[{index}].serial {inverter.serial} is configured more than once")
            seen.add(inverter.serial)
        if self.battery is not None and self.battery.protocol == "opendtu" and self.battery_inverter.serial in seen:
            raise ValueError(f"battery_inverter.serial {self.battery_inverter.serial} is also an inverter's serial")
        return self


class SimServiceSettings(ServiceSettings):
    """Settings of the simulator service."""

    sim: SimSettings = Field(default_factory=SimSettings, description="The simulated household and devices.")
