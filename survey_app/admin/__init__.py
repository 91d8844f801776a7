"""The administrator's pages: staff accounts, their roles and the campaigns each sees."""
