"""docs/benchmarks.md from the figures of one run (`bench.run`).

    python -m bench.report figures.json > docs/benchmarks.md   # re-render a saved run
"""
import json
import sys

COMMAND = "make bench"


def ms(value) -> str:
    return f"{value:.2f}"


def ratio(a, b) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def verdict(value: float, goal: float) -> str:
    return f"{value:.2f} ({'meets' if value <= goal else 'misses'} ≤ {goal})"


BACKENDS = {"moto": "in-process moto (`mock_aws`)", "server": "embedded endpoint (ThreadedMotoServer, HTTP on 127.0.0.1)"}

PER_ROUTE = """| request | calls (exact) |
|---|---|
| any protected route, token with a bad prefix, length, alphabet or checksum (malformed, forged) | 0 (404) |
| any protected route, no token | 0 (401) |
| well-formed token with a valid checksum that was never issued | 1 `GetItem` tokens (404) |
| authorizer, valid token | 1 `GetItem` tokens (strongly consistent) |
| ... first use, and again once `LAST_USED_INTERVAL_SECONDS` (300 s) has passed since the last write | + 1 conditional `UpdateItem` tokens (`lastUsedAt`) |
| `GET /api/v3/user` | authorizer + 1 `GetItem` directory (the user) |
| `GET /api/v3/organizations/{p}/{o}/repositories/{r}`, account token | authorizer + 1 `BatchGetItem` directory (user, org, repo, both grants) |
| the same, project token | authorizer + 1 `GetItem` directory (the repository) |
| `GET /api/v3/user/tokens` (user with 100 tokens; any page size 1-100) | authorizer + 1 `GetItem` directory (user) + 1 `Query` owner-index + 1 `GetItem` tokens (the owner's counter, for `total`) |
| `GET .../repositories/{r}/tokens` (repository with 100 tokens) | authorizer + 1 `BatchGetItem` directory + 1 `Query` owner-index + 1 `GetItem` tokens (counter) |
"""

NOTES = """## Reading the figures

- **What the ratios isolate.** The decision is `TokenAuthorizer()(event)` on a
  REQUEST event (header parsing, format and checksum check, SHA-256, one
  PynamoDB `GetItem`, item deserialization, the policy). The floor is a plain
  botocore `get_item` on the same table and keys, with the client configured
  as PynamoDB configures its own (no parameter validation, same retries and
  timeouts). Both run interleaved in one process, one call each per round, so
  machine noise (this 2-core machine is shared) falls on both alike. The
  sample tokens were used at load time and the bench sets a 1-day
  `LAST_USED_INTERVAL_SECONDS`, so the at-most-once-per-5-minutes `lastUsedAt`
  write is not in the latency (it is counted exactly in the table above).
- **Where the floor is.** Against moto the cost of a read is moto itself
  (request routing, its DynamoDB emulation, response serialization: several
  milliseconds of Python), against the endpoint add an HTTP round trip on
  127.0.0.1. The authorizer's own work (PynamoDB's deserialization of ~10
  attributes into a `Token`, the digest, the policy) is a fraction of a
  millisecond on top, hence ratios near 1. On real DynamoDB a consistent
  `GetItem` takes a few milliseconds over the network and the ratio would be
  closer still to 1.
- **Flat with scale.** The tokens table is keyed by the token's digest: the
  decision is one key lookup whatever the number of items, in DynamoDB and in
  moto (a dict). The bulk data are written straight into moto's backend
  (`bench/dataset.py`: per 1,000 tokens, 100 users each with a grant, one
  organization, 10 repositories), then frozen out of Python's garbage
  collector (`gc.freeze()`): in production the data live in DynamoDB, not in
  the authorizer's heap, and the bench should not bill the authorizer for
  collecting moto's objects. Both sizes live in the same process and are
  switched in an instant (moto's key-to-item maps are swapped, the items
  shared; `Dataset.snapshot/use`), so they are timed in alternating blocks
  (1k, 100k, 100k, 1k, ...) under the same machine load, instead of one
  after the other. Residual differences are noise of the shared machine;
  compare with the `GetItem` floor measured at each size.
- **Listings.** One `Query` on `owner-index` per page (plus the counter read
  for `total`), whatever the page size and whatever the table size. Their
  latency is measured at the first size only: moto answers a Query on a
  global secondary index by scanning every item of the table
  (`moto/dynamodb/models/table.py`, `for item in self.all_items()`), so at
  100,000 items it measures moto's scan; DynamoDB reads only the 101 index
  entries the page asks for.
- **Cold start.** `python -X importtime`, fresh interpreter each run, the sum
  of the entry's top-level imports (interpreter start-up excluded), median of
  the runs, all entries interleaved. The authorizer Lambda (its environment
  has `LATCHKEY_FUNCTION=authorizer`, see `.chalice/config.json`) imports
  `app.py` without the route modules and, at its first well-formed token, the
  tokens store: PynamoDB and botocore, never boto3 or S3 code
  (`tests/test_cold_path.py` asserts it). Almost all of it is botocore, which
  PynamoDB needs: the floor. The column "beyond botocore.session" runs the
  same entry after an untimed `import botocore.session`: what latchkey,
  Chalice and PynamoDB add on top of the floor, a steadier figure than the
  ratio on a shared machine (whole-import medians swing by hundreds of
  milliseconds with the page cache and the neighbours' load). The API Lambda
  loads the services too. Skipping the routes in the authorizer's Lambda
  (this change) saves ~10 ms of imports today, and keeps the authorizer from
  paying for every route module added later (uploads).
- **Logging and metrics library.** Both Lambdas use AWS Lambda Powertools'
  Logger (JSON lines) and its EMF metrics (`chalicelib/telemetry.py`). Its
  import is the `powertools` row: measured after botocore, as the Lambdas
  import it, it costs about 0.07 × the botocore floor (94 ms beyond a
  1,342 ms floor on a heavily loaded run of this machine; ~22 ms at the
  319 ms floor of the table's run), once per cold start and never per
  request. That was judged acceptable for the authorizer, so there is one
  logging setup for both functions rather than a hand-written formatter.
  X-Ray active tracing adds no import at all (no X-Ray SDK is imported; the
  Lambda service records the segments): it is on for the API function
  (`API_TRACING`, default true) and a setting for the authorizer
  (`AUTHORIZER_TRACING`, default false, as every authorizer call would add a
  trace segment to every request).
- **End to end.** `bench/stack.py` serves what `make run` serves (moto's
  server and Chalice's local server in one process, the same authorizer as
  deployed) on free 127.0.0.1 ports with throwaway data, plus a public
  `GET /bench/ping` added to that process's app only (the product has no
  public route) as the baseline of the same server. Several clients with
  keep-alive connections send one request each in a loop for a fixed time.
  Client and server share the machine's 2 cores, and Chalice's local server
  is a development server (one thread per connection, the GIL): absolute
  figures are this machine's, the ratios are the point. The stack turns
  Nagle's algorithm off on the servers' sockets: Python's HTTP servers write
  headers and body separately, and every keep-alive response would otherwise
  wait ~40 ms for the client's delayed ACK (measured: the public route went
  from 44 ms to under 2 ms). An authorized `GET /api/v3/user` costs the
  authorizer's `GetItem` and the route's `GetItem`, each an HTTP round trip
  to the embedded endpoint, which is moto in the same Python process: the
  server is CPU-bound on one core (GIL), one client or four give about the
  same requests per second, and with 4 clients the p50 is about 4 requests'
  service time (queueing). Its floor is therefore a rate: one request costs
  at least the public route plus two bare `GetItem`s on the endpoint
  (section 2), and the summary compares the measured requests per second
  with that rate (≥ 1 means at the floor; the GetItems of section 2 were
  served by a separate process, hence a little slower than in-process). The
  large ratio to the public route is moto's cost per read, not latchkey's.
"""


def render(f: dict) -> str:
    small, large = (str(size) for size in f["plan"]["sizes"])
    lines = header_lines(f)
    lines += summary_section(f, small, large) + [""]
    lines += calls_section(f, small)
    lines += decision_section(f, small, large)
    lines += scale_section(f, small, large)
    lines += cold_start_section(f["cold_start"])
    lines += end_to_end_section(f)
    lines += [""] + keyless_section(f.get("keyless"))
    lines += [""] + lifecycle_section(f.get("lifecycle"))
    lines += ["", NOTES]
    if "uploads" in f:
        lines += ["", render_uploads(f["uploads"], f.get("date", ""), f.get("quick", False))]
    return "\n".join(lines)


def header_lines(f: dict) -> list[str]:
    m = f["machine"]
    lines = ["# Benchmarks", ""]
    if f.get("quick"):
        lines += ["> **Smoke run (`--quick`)**: tiny sizes and few rounds; these figures mean nothing.", ""]
    return lines + [
        f"Measured {f['date']} with `{COMMAND}` (`python -m bench.run`, {f['seconds']:.0f} s) on "
        f"{m['cpus']} CPUs ({m['cpu']}), Python {m['python']}, {m['system']}.",
        "Reproduce: `make bench` from a fresh clone rewrites this file. Goals: authorizer ≤ 1.3 × a bare GetItem; "
        "100,000 vs 1,000 tokens ≤ 1.2.",
        "",
    ]


def summary_section(f: dict, small: str, large: str) -> list[str]:
    summary = ["## Summary", "", "| figure | in-process moto | embedded endpoint |", "|---|---|---|"]
    rows = {
        f"authorizer decision ÷ bare GetItem, median ({int(small):,} tokens)":
            lambda b: verdict(b["sizes"][small]["decision"]["median_ms"] / b["sizes"][small]["get_item"]["median_ms"], 1.3),
        f"authorizer decision ÷ bare GetItem, p99 ({int(small):,} tokens)":
            lambda b: verdict(b["sizes"][small]["decision"]["p99_ms"] / b["sizes"][small]["get_item"]["p99_ms"], 1.3),
        f"decision median, {int(large):,} ÷ {int(small):,} tokens":
            lambda b: verdict(b["sizes"][large]["decision"]["median_ms"] / b["sizes"][small]["decision"]["median_ms"], 1.2),
        f"decision p99, {int(large):,} ÷ {int(small):,} tokens":
            lambda b: verdict(b["sizes"][large]["decision"]["p99_ms"] / b["sizes"][small]["decision"]["p99_ms"], 1.2),
        f"(floor) bare GetItem median, {int(large):,} ÷ {int(small):,} tokens":
            lambda b: f"{b['sizes'][large]['get_item']['median_ms'] / b['sizes'][small]['get_item']['median_ms']:.2f}",
    }
    for label, compute in rows.items():
        summary.append(f"| {label} | {compute(f['moto'])} | {compute(f['server'])} |")
    cold = f["cold_start"]
    for name, label in (("authorizer", "authorizer"), ("api", "API")):
        summary.append(f"| cold start: {label} imports ÷ `import botocore.session` (ms beyond it) | "
                       f"{ratio(cold[name]['median_ms'], cold['botocore']['median_ms'])} "
                       f"(+{cold[name]['beyond_botocore_ms']:.0f} ms) | |")
    return summary + end_to_end_summary(f, small)


def end_to_end_summary(f: dict, small: str) -> list[str]:
    e2e = f["end_to_end"]
    summary = []
    for name in ("get_user", "coverage_upload"):
        row = e2e.get(name, {})
        if "absent" in row or not row:
            summary.append(f"| end to end: {row.get('request', name)} | {row.get('absent', 'not measured')} | |")
        else:
            summary.append(f"| end to end: {row['request']} p50 ÷ public route p50; rps ÷ public rps | | "
                           f"{ratio(row['median_ms'], e2e['ping']['median_ms'])}; "
                           f"{ratio(row['rps'], e2e['ping']['rps'])} |")
    if "median_ms" in e2e.get("get_user", {}):
        floor = e2e["ping"]["median_ms"] + 2 * f["server"]["sizes"][small]["get_item"]["median_ms"]
        summary.append(f"| end to end: GET /api/v3/user rps ÷ its floor rate (one request = public route + 2 × "
                       f"bare GetItem on the endpoint = {floor:.1f} ms of a CPU-bound server → {1000 / floor:.0f} rps) "
                       f"| | {ratio(e2e['get_user']['rps'], 1000 / floor)} |")
    return summary


def calls_section(f: dict, small: str) -> list[str]:
    lines = ["## 1. Storage calls per request", "",
             "Counted exactly through botocore's `before-call` event on every live client "
             "(`bench/calls.py`); asserted in `make test` by `tests/test_call_counts.py` through "
             "`chalice.test.Client` on moto.", "", PER_ROUTE]
    for backend in ("moto", "server"):
        calls = f[backend]["sizes"][small]["decision_calls"]
        lines.append(f"Measured in this run ({BACKENDS[backend]}), one decision: "
                     + (", ".join(f"{n} × `{c}`" for c, n in calls.items()) or "none") + ".")
    return lines + [""]


def decision_section(f: dict, small: str, large: str) -> list[str]:
    lines = ["## 2. Authorizer decision vs one bare GetItem (same table, same run)", "",
             "| backend | tokens | decision median ms | decision p99 ms | GetItem median ms | GetItem p99 ms "
             "| ratio median | ratio p99 | rounds |", "|---|---|---|---|---|---|---|---|---|"]
    for backend in ("moto", "server"):
        for size in (small, large):
            s = f[backend]["sizes"][size]
            d, g = s["decision"], s["get_item"]
            lines.append(f"| {BACKENDS[backend]} | {int(size):,} | {ms(d['median_ms'])} | {ms(d['p99_ms'])} | "
                         f"{ms(g['median_ms'])} | {ms(g['p99_ms'])} | {ratio(d['median_ms'], g['median_ms'])} | "
                         f"{ratio(d['p99_ms'], g['p99_ms'])} | {d['n']} |")
    return lines + [""]


def scale_section(f: dict, small: str, large: str) -> list[str]:
    lines = ["## 3. Flat with scale", "",
             "| backend | decision median ms, " + f"{int(small):,} → {int(large):,}" + " | ratio | decision p99 ms | ratio "
             "| GetItem median ms (floor) | ratio |", "|---|---|---|---|---|---|---|"]
    for backend in ("moto", "server"):
        a, b = f[backend]["sizes"][small], f[backend]["sizes"][large]
        lines.append(
            f"| {BACKENDS[backend]} | {ms(a['decision']['median_ms'])} → {ms(b['decision']['median_ms'])} | "
            f"{ratio(b['decision']['median_ms'], a['decision']['median_ms'])} | "
            f"{ms(a['decision']['p99_ms'])} → {ms(b['decision']['p99_ms'])} | "
            f"{ratio(b['decision']['p99_ms'], a['decision']['p99_ms'])} | "
            f"{ms(a['get_item']['median_ms'])} → {ms(b['get_item']['median_ms'])} | "
            f"{ratio(b['get_item']['median_ms'], a['get_item']['median_ms'])} |")
    lines += ["", "Token listings (100 tokens each, at " + f"{int(small):,} stored tokens):", "",
              "| backend | owner | items (limit 100) | total | Query calls | all calls | pages of 25 | Query calls for them "
              "| median ms (limit 100) |", "|---|---|---|---|---|---|---|---|---|"]
    for backend in ("moto", "server"):
        for owner in ("user", "repository"):
            row = f[backend]["sizes"][small][f"listing_{owner}"]
            all_calls = ", ".join(f"{n} × `{c}`" for c, n in row["calls"].items())
            lines.append(f"| {BACKENDS[backend]} | {owner} | {row['items']} | {row['total']} | {row['queries']} | "
                         f"{all_calls} | {row['pages_of_25']} | {row['queries_of_25']} | {ms(row['median_ms'])} |")
    return lines + [""]


def cold_start_section(cold: dict) -> list[str]:
    lines = ["## 4. Cold start (imports)", "",
             "| entry | median ms | ÷ `import botocore.session` | ms beyond botocore.session (imported first) | runs |",
             "|---|---|---|---|---|"]
    for row in cold.values():
        lines.append(f"| {row['description']} | {row['median_ms']:.0f} | "
                     f"{ratio(row['median_ms'], cold['botocore']['median_ms'])} | "
                     f"{row['beyond_botocore_ms']:.0f} | {row['runs']} |")
    return lines + [""]


def end_to_end_section(f: dict) -> list[str]:
    e2e = f["end_to_end"]
    lines = ["## 5. End to end through the local server", "",
             f"{f['plan']['clients']} concurrent keep-alive clients, {f['plan']['seconds']:g} s per request kind, "
             "127.0.0.1 only.", "",
             "| request | requests/s | p50 ms | p99 ms | statuses | p50 ÷ public route | rps ÷ public route |",
             "|---|---|---|---|---|---|---|"]
    for row in e2e.values():
        if "absent" in row:
            lines.append(f"| {row['request']} | {row['absent']} | | | | | |")
            continue
        statuses = ", ".join(f"{k}: {v}" for k, v in row["statuses"].items())
        lines.append(f"| `{row['request']}` | {row['rps']:.0f} | {ms(row['median_ms'])} | {ms(row['p99_ms'])} | "
                     f"{statuses} | {ratio(row['median_ms'], e2e['ping']['median_ms'])} | "
                     f"{ratio(row['rps'], e2e['ping']['rps'])} |")
    return lines


LIFECYCLE_LABELS = {
    "plain": "plain account token",
    "plain_project": "plain project token",
    "scopes_and_20_cidrs": "project token with scopes and 20 `allowedCidrs` blocks",
    "rotated_in_grace": "rotated-away token in its grace period",
    "max_uses": "`maxUses` token (the conditional use count)",
}


def lifecycle_section(figures) -> list[str]:
    """Issue 16: what each limit costs a decision (in-process moto)."""
    if not figures:
        return []
    lines = ["## 7. The lifecycle's limits in the authorizer", "",
             "One decision per kind of token (`bench/lifecycle.py`, in-process moto, the same run): scopes, "
             "CIDRs, pause and rotation are read from the token's one item; `maxUses` adds one conditional "
             "`UpdateItem` (it also carries `lastUsedAt`, so a counted token never pays a separate touch).", "",
             "| token | calls per decision | median ms | p99 ms | median ÷ bare GetItem |", "|---|---|---|---|---|"]
    floor = figures["get_item"]["median_ms"]
    for name, label in LIFECYCLE_LABELS.items():
        row = figures.get(name)
        if row is None:
            continue
        calls = ", ".join(f"{n} × `{c}`" for c, n in row["calls"].items())
        lines.append(f"| {label} | {calls} | {ms(row['median_ms'])} | {ms(row['p99_ms'])} | "
                     f"{ratio(row['median_ms'], floor)} |")
    lines.append(f"| (floor) bare `GetItem` | 1 | {ms(floor)} | {ms(figures['get_item']['p99_ms'])} | 1.00 |")
    if "cidr_check" in figures:
        lines += ["", f"Of a CIDR-limited token's decision, the check of 20 blocks itself takes "
                      f"{ms(figures['cidr_check']['median_ms'])} ms (median; p99 {ms(figures['cidr_check']['p99_ms'])}); "
                      "the rest of the difference is moto answering for a larger item (on DynamoDB, an item under "
                      "4 KB costs the same read)."]
    return lines


def keyless_section(k: dict | None) -> list[str]:
    """The keyless CI exchange (`bench/keyless_bench.py`): exact storage calls per outcome, latency."""
    if not k:
        return []
    lines = ["## 6. Keyless CI: the exchange of an identity token (`POST /api/v3/oidc/token`)", "",
             "Against an issuer on 127.0.0.1 (its keys fetched once and cached: "
             f"{k['jwks_fetches']} JWKS fetch in the whole run), on in-process moto, service level. "
             "Calls counted exactly as in section 1.", "",
             "| identity token | answer | storage calls (exact) |", "|---|---|---|"]
    labels = {"minted": "valid, trusted publisher", "replayed-token": "the same token again",
              "no-publisher": "valid, no publisher trusts it", "invalid-token": "wrong audience",
              "malformed": "not a JWT"}
    for name, case in k["cases"].items():
        calls = ", ".join(f"{n} × `{c}`" for c, n in case["calls"].items()) or "none"
        lines.append(f"| {labels.get(name, name)} | {case['outcome']} | {calls} |")
    e = k["exchange"]
    lines += ["", f"A successful exchange: median {ms(e['median_ms'])} ms, p99 {ms(e['p99_ms'])} ms "
              f"over {e['n']} exchanges (signature check, 4 storage calls, token minted)."]
    return lines


UPLOADS_HEADING = "## 7. Uploads at the limits"
UPLOADS_COMMAND = "make bench (or only this part: python -m bench.run --only uploads)"
MIB = 1024 * 1024


def render_uploads(u: dict, date: str, quick: bool = False) -> str:
    """Section 7: read-back cost by commit size, merge memory, largest bodies, bounds."""
    merge, fill = u["merge"], u["coverage_fill"]
    lines = [UPLOADS_HEADING, ""]
    if quick:
        lines += ["> **Smoke run (`--quick`)**: tiny sizes; these figures mean nothing.", ""]
    lines += [
        f"Measured {date} with `{UPLOADS_COMMAND}` (`bench/uploads_bench.py`): requests through "
        "`chalice.test.Client` (routes, authorizer, services) on in-process moto. Goals: a read-back of the "
        "largest commit ≤ 1.5 × that of a commit holding one small report; the largest merge under 256 MB; "
        "every upload well under the analysis CLI's 15 s read timeout. The 2 CPUs are shared with other "
        "sessions' test runs: absolute times vary up to 2 × between runs with the load; the read-back ratios are "
        "measured interleaved, under the same load.", "",
        "| figure | value |", "|---|---|",
    ]
    for what, row in u["read_back"].items():
        lines.append(f"| read-back `{what}` median, largest ÷ smallest commit | {verdict(row['ratio'], 1.5)} "
                     f"({ms(row['large_ms'])} ms ÷ {ms(row['small_ms'])} ms, {row['rounds']} rounds interleaved; "
                     f"answers {row['answer_bytes']['large']:,} and {row['answer_bytes']['small']:,} bytes) |")
    lines.append(f"| largest merge: peak memory traced (tracemalloc, the whole request incl. moto's copies) | "
                 f"{merge['peak_bytes'] / MIB:.0f} MiB ({'meets' if merge['peak_bytes'] < 256 * MIB else 'misses'} "
                 f"< 256 MB): report {merge['reports']} of {merge['body_bytes']:,} bytes into a commit of "
                 f"{merge['commit_bytes']:,} bytes |")
    slowest = max(u["largest_bodies"].items(), key=lambda item: item[1]["seconds"])
    lines.append(f"| slowest upload route at its largest body | {slowest[1]['seconds']:.2f} s ({slowest[0]}, "
                 f"{slowest[1]['body_bytes']:,} bytes; {'meets' if slowest[1]['seconds'] < 7.5 else 'misses'} "
                 "≤ half of 15 s) |")
    lines.append(f"| filling the largest coverage commit: {fill['reports']} partial reports, {fill['bytes']:,} bytes "
                 f"(the traced last one apart: {merge['seconds_traced']:.1f} s under tracemalloc) "
                 f"| slowest {fill['slowest_s']:.2f} s, median {fill['median_s']:.2f} s per upload, "
                 f"the last untraced (into {fill['reports'] - 1} reports) {fill.get('last_s', 0):.2f} s |")
    a = u["analysis_fill"]
    lines.append(f"| filling an analysis commit: {a['batches']} batches of the largest body "
                 f"| slowest {a['slowest_s']:.2f} s, median {a['median_s']:.2f} s per batch |")
    lines += ["", "Every upload route at the largest body it may take (6,000,000 bytes as Lambda's event carries it):",
              "", "| route | seconds | body bytes | bytes in Lambda's event |", "|---|---|---|---|"]
    for name, row in u["largest_bodies"].items():
        lines.append(f"| `{name}` | {row['seconds']:.2f} | {row['body_bytes']:,} | {row['event_bytes']:,} |")
    lines += ["", "The per-commit bounds (settings; 413 past them, naming the setting, nothing stored):", "",
              "| setting | value |", "|---|---|"]
    for name, value in u["bounds"].items():
        lines.append(f"| `{name}` | {value:,} |")
    lines += ["", "Plus, fixed in code: 20 distinct issue levels per commit (10 per tool), file names of at most "
              "1,024 characters in read-backs, 50 kept file errors and failures of each kind.", ""]
    return "\n".join(lines)


def splice_uploads(document: str, section: str) -> str:
    """`document` with its uploads section replaced by (or appended with) `section`."""
    start = document.find(UPLOADS_HEADING)
    if start < 0:
        return document.rstrip("\n") + "\n\n" + section
    end = document.find("\n## ", start + len(UPLOADS_HEADING))
    return document[:start] + section + (document[end + 1:] if end >= 0 else "")


if __name__ == "__main__":
    with open(sys.argv[1]) as figures:
        sys.stdout.write(render(json.load(figures)))
