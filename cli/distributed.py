"""Handlers of the distributed commands (registered in cli.main)."""

REGISTRY: list = []
