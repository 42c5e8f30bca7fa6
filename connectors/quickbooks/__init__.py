"""QuickBooks Online: webhooks, reads, change-data-capture and write-back, in ledger terms."""
