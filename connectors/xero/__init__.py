"""Xero on the platform seam: webhooks, polling, OAuth 2 with rotating tokens, write-back."""
