"""Transfer operators: an export's data out of AEP into other storage."""
