"""The bodies CI uploads, by Codacy's formats (`codacy-compat.md`, API v2):
pure functions, no storage.

- `checks`: what every format shares (file names, commits, languages, the
  Scala clients' null-means-absent objects, the per-request budget);
- `coverage`: coverage reports, and the bitset state a commit folds them into;
- `analysis`: issues, metrics and duplication results: per kind one
  validator and one reducer (`FORMATS`), and how a commit's state reads back;
- `readback`: the per-file rows a read-back pages through.
"""
