"""Audience: contacts' profiles, segments, targeting, receptiveness, exports."""
