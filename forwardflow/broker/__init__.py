"""The broker binding: embedded NATS, topology, connection and the outbox relay."""
