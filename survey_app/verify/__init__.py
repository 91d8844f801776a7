"""``/verify/<report id>``: anyone holding a certification report checks it here."""
