"""The payments service: charges each order whose stock is reserved, at most once."""
