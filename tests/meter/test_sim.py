"""The synthetic meter: repeatable with a seed, steps and noise around base load minus PV."""

from zeropower.meter.drivers.sim import SimConfig, SimMeter


async def powers(meter, count):
    return [(await meter.read()).power_w for _ in range(count)]


async def test_same_seed_same_sequence():
    config = SimConfig(seed=7, switch_probability=0.2)
    assert await powers(SimMeter(config), 50) == await powers(SimMeter(config), 50)
    assert await powers(SimMeter(config), 50) != await powers(SimMeter(SimConfig(seed=8, switch_probability=0.2)), 50)


async def test_without_appliances_it_is_base_load_minus_pv_plus_noise():
    meter = SimMeter(SimConfig(seed=1, base_load_w=300, pv_w=500, noise_w=5, appliances_w=[]))
    values = await powers(meter, 200)
    assert all(-230 < value < -170 for value in values)
    assert len(set(values)) > 100  # noisy


async def test_appliance_steps_appear():
    meter = SimMeter(SimConfig(seed=3, base_load_w=0, pv_w=0, noise_w=0, appliances_w=[1000], switch_probability=0.3))
    assert set(await powers(meter, 50)) == {0.0, 1000.0}


async def test_no_counters_of_its_own():
    """The service integrates the simulated power, as for every meter without netted counters."""
    meter = SimMeter(SimConfig(seed=1))
    values = await meter.read()
    assert not meter.netted_counters
    assert (values.energy_import, values.energy_export) == (None, None)
