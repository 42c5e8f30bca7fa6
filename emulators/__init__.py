"""Stand-ins for the outside world, for the demo and the tests: platforms and a buyer's SFTP.

The product never imports this package (an import-linter contract says so); the demo and
the tests do.
"""
