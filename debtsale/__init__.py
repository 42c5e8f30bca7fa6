"""The debt-sale domain: money, receivables, agreements, rules and reports. Pure: no I/O."""
