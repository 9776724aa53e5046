"""``pantau simulate``: a regency of simulated sensors publishing over MQTT.

Air-quality, water-level, rain, traffic and weather stations across Kabupaten
Bekasi's zones (:mod:`devices.zones`), with daily patterns, real PM2.5 episodes
replayed from the Beijing PM2.5 data set, noise, drift, dropouts, stuck sensors,
spikes, floods and offline sensors on demand.

Every value is a pure function of (seed, device, metric, timestamp), so a run is
reproducible with ``--seed`` whatever the schedule, batching or speed of the broker.

Modules: :mod:`~sandbox.simulate.noise` (counter-based random numbers),
:mod:`~sandbox.simulate.replay` (PM2.5 episodes), :mod:`~sandbox.simulate.fleet`
(which devices, where), :mod:`~sandbox.simulate.scenario` (faults and events),
:mod:`~sandbox.simulate.signals` (vectorised values), :mod:`~sandbox.simulate.payloads`
(message forms), :mod:`~sandbox.simulate.pool` (MQTT connections),
:mod:`~sandbox.simulate.enrolment` (registration and credentials),
:mod:`~sandbox.simulate.runner` (backfill and live schedule),
:mod:`~sandbox.simulate.commands` (the CLI).
"""
