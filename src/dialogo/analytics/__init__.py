"""Measurement: metrics, best time, content performance, links, conversions, ROI, reports."""
