"""Message handlers: ledger events and portfolio commands applied through the domain."""
