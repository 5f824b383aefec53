"""Use cases: what a route or a CLI command asks for, in domain terms.

Services receive their stores and clock; they apply `chalicelib.access` and
raise `chalicelib.errors`. They know nothing of HTTP.
"""
