"""Outreach reports: who came, from where, and what the labs achieved."""
