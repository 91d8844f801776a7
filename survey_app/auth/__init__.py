"""Staff accounts: signing in and out, roles, and who may see which campaign."""
