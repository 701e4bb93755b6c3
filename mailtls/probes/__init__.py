"""Probes: they connect, observe and record; they never judge."""
