"""The web console: its pages (pure HTML rendering) and static assets.

The routes are in `chalicelib.api.console`; nothing here imports Chalice.
"""
