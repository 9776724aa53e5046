"""NAB scoring, written from ``SCORING.md`` (windows, scaled sigmoid, profiles, threshold
optimisation, normalisation with the null and perfect detectors)."""
