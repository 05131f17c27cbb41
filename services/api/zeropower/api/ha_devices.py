"""Home Assistant devices: the main ``zeropower`` device (the controller), one per service, inverter, diverter, battery.

Every device but the main one names it in ``via_device``, so Home Assistant shows them as connected through
zeropower. A device's ``slug`` starts the ids of its entities (``sensor.<node_id>_<slug>_<entity>``): the
device's name, never a serial, which goes into ``identifiers`` and ``serial_number`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from zeropower.shared.messages import ActuatorAnnouncement, DeviceInfo, DeviceKind

#: What each kind of announced device is called in its device's model.
KINDS: dict[DeviceKind, str] = {"inverter": "Inverter", "consumer": "Diverter", "storage": "Battery"}

#: The installed package whose version the devices show as ``sw_version`` (all zeropower packages share one).
PACKAGE = "zeropower-api"


@dataclass(frozen=True)
class HaDevice:
    """One device: its discovery ``device`` block, what its entities' unique ids and entity ids start with.

    Both prefixes are None for the main device (its entities' ids start with the node id alone).
    """

    block: dict[str, Any]
    key: str | None
    slug: str | None

    @property
    def name(self) -> str:
        """The device's name, which Home Assistant puts in front of each entity's name."""
        return str(self.block["name"])


def software_version() -> str | None:
    """The installed zeropower version, None when the package is not installed (run from a source tree)."""
    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return None


def slug(text: str) -> str:
    """Lower-case letters, digits and ``_`` (any other run of characters becomes one ``_``)."""
    word = "".join(character if character.isascii() and character.isalnum() else "_" for character in text.lower())
    return "_".join(part for part in word.split("_") if part) or "_"


class DeviceCatalogue:
    """Builds the device blocks of one installation (``node_id``)."""

    def __init__(self, node_id: str, web_ui_url: str | None = None) -> None:
        """``web_ui_url``: the link zeropower's own devices carry (inverters and diverters have their DTU's)."""
        self.node_id = node_id
        # what zeropower's own devices carry: the software version and the link to the web UI
        self._own: dict[str, Any] = {"sw_version": v} if (v := software_version()) else {}
        if web_ui_url is not None:
            self._own["configuration_url"] = web_ui_url
        self.main = HaDevice(
            {
                "identifiers": [node_id],
                "name": "zeropower",
                "manufacturer": "zeropower",
                "model": "Zero-export controller",
                **self._own,
            },
            None,
            None,
        )

    def service(self, service_key: str, name: str, model: str) -> HaDevice:
        """A zeropower service other than the controller (the controller is the main device)."""
        return self._linked(service_key, {"name": name, "manufacturer": "zeropower", "model": model, **self._own})

    def actuator(self, announcement: ActuatorAnnouncement) -> HaDevice:
        """An actuator service."""
        actuator_id = announcement.actuator_id
        return self.service(f"actuator_{actuator_id}", f"Actuator {actuator_id}", f"{announcement.driver} actuator")

    def device(self, announcement: ActuatorAnnouncement, device: DeviceInfo) -> HaDevice:
        """An inverter, a diverter or a battery, named by its name; an inverter's device id is its serial number."""
        kind = KINDS[device.kind]
        block: dict[str, Any] = {"name": device.name, "model": f"{kind} ({announcement.driver})"}
        if device.kind == "inverter":
            block["serial_number"] = device.device_id
        key = f"{announcement.actuator_id}_{device.device_id}"
        return HaDevice(self._linked(key, block).block, key, slug(device.name))

    def _linked(self, key: str, block: dict[str, Any]) -> HaDevice:
        identified = {"identifiers": [f"{self.node_id}_{key}"], **block, "via_device": self.node_id}
        return HaDevice(identified, key, slug(key))
