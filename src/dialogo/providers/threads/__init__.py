"""Threads through the Threads API (graph.threads.net): containers, replies, insights."""
