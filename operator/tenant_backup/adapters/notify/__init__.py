"""Notifications of a backup's outcome: email over SMTP and signed webhooks."""
