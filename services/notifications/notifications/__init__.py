"""Notifications: tells people what happened to them (in-app inbox, email over SMTP) and records every delivery."""
