"""Small helpers shared across the package (optional-dependency checks)."""
