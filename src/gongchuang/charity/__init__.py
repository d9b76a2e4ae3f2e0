"""Charity with matched giving: charities and projects, donations, matching pots, disbursement,
a public ledger, and community funds."""
