"""Ingest: MQTT subscriber, payload decoders, the NumPy pipeline and the durable spool."""
