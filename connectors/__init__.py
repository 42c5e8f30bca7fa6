"""Inbound adapters: accounting platforms' webhooks and APIs turned into ledger events."""
