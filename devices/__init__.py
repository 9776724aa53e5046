"""The device registry: devices, calibrations, maintenance, MQTT credentials and ACLs.

Modules: :mod:`devices.model` (the frozen types), :mod:`devices.zones` and
:mod:`devices.kinds` (catalogues), :mod:`devices.validation` (field checks shared by
the API and the CSV import), :mod:`devices.registry` (SQL), :mod:`devices.cache`
(the ingest path's view), :mod:`devices.credentials` (Mosquitto password file and
ACL), :mod:`devices.importer` (CSV), :mod:`devices.status` (completeness).
"""
