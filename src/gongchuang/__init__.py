"""Gongchuang (共创): one platform for community public-good work."""

__version__ = "0.1.0"
