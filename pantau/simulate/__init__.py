"""``pantau simulate``: a regency of simulated sensors publishing over MQTT.

Air-quality, water-level, rain, traffic and weather stations across Kabupaten
Bekasi's zones (:mod:`devices.zones`), with daily patterns, real PM2.5 episodes
replayed from the Beijing PM2.5 data set, noise, drift, dropouts, stuck sensors,
spikes, floods and offline sensors on demand.

Every value is a pure function of (seed, device, metric, timestamp), so a run is
reproducible with ``--seed`` whatever the schedule, batching or speed of the broker.

Modules: :mod:`~pantau.simulate.noise` (counter-based random numbers),
:mod:`~pantau.simulate.replay` (PM2.5 episodes), :mod:`~pantau.simulate.fleet`
(which devices, where), :mod:`~pantau.simulate.scenario` (faults and events),
:mod:`~pantau.simulate.signals` (vectorised values), :mod:`~pantau.simulate.payloads`
(message forms), :mod:`~pantau.simulate.pool` (MQTT connections),
:mod:`~pantau.simulate.enrolment` (registration and credentials),
:mod:`~pantau.simulate.runner` (backfill and live schedule),
:mod:`~pantau.simulate.commands` (the CLI).
"""
