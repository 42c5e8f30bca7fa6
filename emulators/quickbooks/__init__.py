"""A faithful QuickBooks Online emulator for tests and the demo (HTTP, v3 JSON shapes)."""
