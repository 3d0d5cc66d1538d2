"""The library every grants service imports: event contracts, event bus, outbox/inbox, settings, auth, errors."""
