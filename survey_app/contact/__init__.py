"""A school contact's view of their own school's counts, through a signed link."""
