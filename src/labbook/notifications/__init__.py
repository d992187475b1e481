"""Notifications: e-mail (with calendar invitations) about what happened, sent by background jobs."""
