"""mailtls: a pytest-based compliance suite for email transport security."""

__version__ = "0.1.0"
