"""Endpoint handlers, one module per object kind."""
