"""Development tooling: local infrastructure, `make run`, the demo journey. Not used by the services."""
