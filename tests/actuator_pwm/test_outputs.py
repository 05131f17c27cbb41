"""PWM outputs: sysfs against a tree laid out like the kernel's, RPi.GPIO against a recording stand-in, sim."""

import os
import threading
from pathlib import Path

import pytest

from zeropower.actuator_pwm.outputs import open_output, rpi_gpio, sysfs
from zeropower.actuator_pwm.outputs.base import OutputError
from zeropower.actuator_pwm.outputs.rpi_gpio import RpiGpioConfig, RpiGpioOutput
from zeropower.actuator_pwm.outputs.sim import SimOutputConfig
from zeropower.actuator_pwm.outputs.sysfs import SysfsConfig
from zeropower.shared.topics import Topics

# ---- sysfs ----------------------------------------------------------------------------------------


def make_chip(root: Path, channels: int = 2) -> Path:
    chip = root / "pwmchip0"
    chip.mkdir(parents=True)
    (chip / "npwm").write_text(f"{channels}\n")
    (chip / "export").write_text("")
    return chip


def make_channel(chip: Path, channel: int, period: int = 0, duty_cycle: int = 0) -> Path:
    directory = chip / f"pwm{channel}"
    directory.mkdir()
    for name, value in (("period", period), ("duty_cycle", duty_cycle), ("enable", 0)):
        (directory / name).write_text(f"{value}\n")
    return directory


def read(directory: Path, name: str) -> int:
    return int((directory / name).read_text())


@pytest.fixture
def kernel_rules(monkeypatch):
    """Enforce the kernel's rule on every write (duty_cycle <= period) and record the writes."""
    writes: list[tuple[str, int]] = []
    original = sysfs.write_attribute

    def checked(path: Path, value: int) -> None:
        if path.name == "duty_cycle":
            assert value <= read(path.parent, "period"), "duty_cycle above period"
        if path.name == "period":
            assert read(path.parent, "duty_cycle") <= value, "period below duty_cycle"
        original(path, value)
        writes.append((path.name, value))

    monkeypatch.setattr(sysfs, "write_attribute", checked)
    return writes


async def test_sysfs_exports_the_channel_and_waits_for_it(tmp_path):
    chip = make_chip(tmp_path)
    exported = threading.Event()

    def kernel() -> None:  # the export file is a FIFO: reading it blocks until the service writes
        with (chip / "export").open() as export:
            channel = int(export.read())
        make_channel(chip, channel)
        exported.set()

    (chip / "export").unlink()
    os.mkfifo(chip / "export")
    thread = threading.Thread(target=kernel, daemon=True)
    thread.start()
    try:
        output = await sysfs.SysfsOutput.open(SysfsConfig(channel=1, frequency_hz=1000, root=tmp_path))
    finally:
        thread.join(5)
    assert exported.is_set()
    channel = chip / "pwm1"
    assert [read(channel, name) for name in ("period", "duty_cycle", "enable")] == [1_000_000, 0, 1]
    await output.set_duty(0.25)
    assert read(channel, "duty_cycle") == 250_000
    await output.close()
    assert [read(channel, name) for name in ("duty_cycle", "enable")] == [0, 0]


async def test_sysfs_lowers_the_duty_before_shortening_the_period(tmp_path, kernel_rules):
    chip = make_chip(tmp_path)
    channel = make_channel(chip, 0, period=500_000_000, duty_cycle=400_000_000)  # left by an earlier 2 Hz run
    output = await sysfs.SysfsOutput.open(SysfsConfig(frequency_hz=5, root=tmp_path))
    assert kernel_rules == [("duty_cycle", 0), ("period", 200_000_000), ("enable", 1)]
    assert "export" not in {name for name, _ in kernel_rules}
    await output.set_duty(1.0)
    assert read(channel, "duty_cycle") == 200_000_000
    await output.close()
    await output.close()
    assert kernel_rules[-2:] == [("duty_cycle", 0), ("enable", 0)]


async def test_sysfs_missing_chip_or_channel_is_explained(tmp_path):
    with pytest.raises(OutputError, match=r"no PWM chip at .*pwmchip0: enable hardware PWM"):
        await sysfs.SysfsOutput.open(SysfsConfig(root=tmp_path))
    make_chip(tmp_path, channels=2)
    with pytest.raises(OutputError, match="has 2 channel"):
        await sysfs.SysfsOutput.open(SysfsConfig(channel=2, root=tmp_path))
    with pytest.raises(OutputError, match=r"pwm0/period did not appear within 0.1 s"):
        await sysfs.SysfsOutput.open(SysfsConfig(root=tmp_path, export_timeout_s=0.1))


async def test_sysfs_permission_error_names_the_file(tmp_path, monkeypatch):
    channel = make_channel(make_chip(tmp_path), 0)

    def refuse(path: Path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Path, "write_text", refuse)
    with pytest.raises(OutputError, match=f"cannot write {channel / 'duty_cycle'}: permission denied"):
        await sysfs.SysfsOutput.open(SysfsConfig(root=tmp_path))


# ---- RPi.GPIO -------------------------------------------------------------------------------------


class FakePwm:
    def __init__(self, calls: list, pin: int, frequency: float) -> None:
        self._calls = calls
        calls.append(("PWM", pin, frequency))

    def start(self, duty_cycle: float) -> None:
        self._calls.append(("start", duty_cycle))

    def ChangeDutyCycle(self, duty_cycle: float) -> None:  # noqa: N802
        self._calls.append(("ChangeDutyCycle", duty_cycle))

    def stop(self) -> None:
        self._calls.append(("stop",))


class FakeGpio:
    """The RPi.GPIO API, recording every call."""

    BCM, OUT, HIGH, LOW = 11, 0, 1, 0

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def setmode(self, mode: int) -> None:
        self.calls.append(("setmode", mode))

    def setup(self, channel: int, direction: int, *, initial: int) -> None:
        self.calls.append(("setup", channel, direction, initial))

    def output(self, channel: int, value: int) -> None:
        self.calls.append(("output", channel, value))

    def PWM(self, channel: int, frequency: float) -> FakePwm:  # noqa: N802
        return FakePwm(self.calls, channel, frequency)

    def cleanup(self, channel: list[int]) -> None:
        self.calls.append(("cleanup", channel))


async def test_rpi_gpio_drives_the_pwm_and_status_pins():
    gpio = FakeGpio()
    output = RpiGpioOutput(RpiGpioConfig(pin=12, status_pin=17, frequency_hz=5), gpio)
    assert gpio.calls == [
        ("setmode", FakeGpio.BCM),
        ("setup", 12, FakeGpio.OUT, FakeGpio.LOW),
        ("setup", 17, FakeGpio.OUT, FakeGpio.LOW),
        ("PWM", 12, 5),
        ("start", 0),
    ]
    gpio.calls.clear()
    await output.set_duty(0.425)
    await output.set_duty(0)
    assert gpio.calls == [
        ("ChangeDutyCycle", 42.5),
        ("output", 17, FakeGpio.HIGH),
        ("ChangeDutyCycle", 0),
        ("output", 17, FakeGpio.LOW),
    ]
    gpio.calls.clear()
    await output.close()
    await output.close()
    assert gpio.calls == [
        ("ChangeDutyCycle", 0),
        ("output", 17, FakeGpio.LOW),
        ("stop",),
        ("cleanup", [12, 17]),
    ]


async def test_rpi_gpio_without_status_pin():
    gpio = FakeGpio()
    output = RpiGpioOutput(RpiGpioConfig(pin=18), gpio)
    await output.set_duty(1)
    await output.close()
    assert ("output", 17, FakeGpio.HIGH) not in gpio.calls
    assert gpio.calls[-1] == ("cleanup", [18])


def test_rpi_gpio_missing_module_points_to_rpi_lgpio(monkeypatch):
    def missing(name: str):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(rpi_gpio.importlib, "import_module", missing)
    with pytest.raises(OutputError, match="pip install rpi-lgpio"):
        RpiGpioOutput(RpiGpioConfig(pin=12))


def test_rpi_gpio_pins_must_differ():
    with pytest.raises(ValueError, match="status_pin must differ from pin"):
        RpiGpioConfig(pin=12, status_pin=12)


# ---- sim ------------------------------------------------------------------------------------------


async def test_sim_publishes_the_duty_as_plain_text_and_opens_as_found():
    published: list[tuple[str, str]] = []

    async def publish(topic: str, text: str) -> bool:
        published.append((topic, text))
        return True

    topics = Topics("zp")
    output = await open_output(SimOutputConfig(output_id="boiler"), topics=topics, publish=publish)
    await output.set_duty(0.123456)
    await output.close()
    assert output.found_duty is None  # the simulator keeps what a previous process left
    assert published == [(topics.sim_pwm_duty("boiler"), text) for text in ("0.1235", "0")]


async def test_sysfs_keeps_the_duty_a_previous_process_left_running(tmp_path, kernel_rules):
    # A restarted actuator changes nothing by itself: dropping the load would export what it absorbed.
    chip = make_chip(tmp_path)
    channel = make_channel(chip, 0, period=200_000_000, duty_cycle=50_000_000)
    (channel / "enable").write_text("1\n")
    output = await sysfs.SysfsOutput.open(SysfsConfig(frequency_hz=5, root=tmp_path))
    assert output.found_duty == 0.25
    assert kernel_rules == []  # nothing written
    await output.close()
