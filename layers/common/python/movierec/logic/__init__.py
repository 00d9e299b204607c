"""Pure logic (no I/O): parsing, aggregation, conversions; the "logic" layer of the cookbook layout."""
