"""Dialogo: a self-hosted social media marketing workbench."""

__version__ = "0.1.0"
