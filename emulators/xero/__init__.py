"""An emulated Xero: organisations, the Accounting API, OAuth 2 with rotating tokens, webhooks."""
