"""The demo: a workspace for an Italian brand, sandbox channels and 90 days of history."""
