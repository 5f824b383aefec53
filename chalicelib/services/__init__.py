"""Use cases: what a route or a CLI command asks for, in domain terms.

Services receive their stores, the services they use and their clock from
the composition root (`chalicelib.wiring`) and build none themselves; they
apply `chalicelib.access` and raise `chalicelib.errors`. They know nothing of
HTTP, nor of PynamoDB: the store offers the operations.
"""
