"""Disbursement: grant offers and acceptance, bank details (encrypted, masked), payment schedules, the budget ledger and payments."""
