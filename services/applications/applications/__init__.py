"""Funding programmes, applicant organisations, applications, eligibility, and where an application stands."""
