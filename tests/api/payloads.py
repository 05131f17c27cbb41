"""Payloads the API tests publish."""

from zeropower.shared.messages import ControllerState


def controller_state(*, enabled: bool) -> str:
    """A controller state as the controller publishes it, regulating or paused."""
    return ControllerState(
        enabled=enabled,
        mode="regulating" if enabled else "paused",
        reason="grid within the deadband" if enabled else "switched off",
        grid_power_w=-120.0,
        grid_age_s=0.1,
        target_w=20.0,
        output_w=300.0,
        limit_w=310.0,
        setpoints_w={"114182912345": 310.0},
    ).model_dump_json()
