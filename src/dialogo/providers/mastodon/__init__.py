"""Mastodon (any server of the fediverse running Mastodon's API), through Mastodon.py."""
