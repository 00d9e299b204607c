"""Serving recommendations: the logic behind ``GET /recommend/{user_id}`` (the Chalice app stays thin)."""
