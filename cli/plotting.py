"""Handlers of the plotting commands (registered in cli.main)."""

REGISTRY: list = []
