"""Latchkey: API tokens for a code-quality platform, served by Chalice."""
