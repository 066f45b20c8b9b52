"""Fakes of external services that speak the real wire protocols (used by e2e tests)."""
