"""The respondent's path: a one-time code to a stored, anonymous response."""
