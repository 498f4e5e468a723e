"""X (formerly Twitter) through the X API v2."""
