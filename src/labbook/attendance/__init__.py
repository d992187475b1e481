"""Trainee rosters, attendance and safety inductions."""
