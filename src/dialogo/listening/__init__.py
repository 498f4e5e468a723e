"""Listening and reputation: queries, mentions, share of voice, crisis alerts."""
