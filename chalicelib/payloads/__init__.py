"""The bodies CI uploads, by Codacy's formats: pure functions, no storage."""
