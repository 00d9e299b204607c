"""Record types shared across the package (the "models" layer of the handler / logic / dal / models layout)."""
