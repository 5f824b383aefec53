"""`make bench`: latchkey's figures on this machine (see docs/benchmarks.md)."""
