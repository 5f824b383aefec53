"""Shared fixtures: moto-backed tables, the real services, a Chalice test
client, factories for users, repositories and tokens, callers of every kind
(the classes behind them are in tests/helpers.py), servers on 127.0.0.1.

The environment is set before anything imports `chalicelib`: PynamoDB reads
table names when the models are imported.
"""
import os

from chalicelib.stage_names import stage_names  # reads no setting: safe before the environment is set

for _name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    **stage_names("dev").resource_variables(),
)

import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from tests.helpers import Api, Clock, Made, build_callers  # noqa: E402

# The service's empty tables and bucket as moto holds them, by their names:
# made once, then copied into each test's fresh moto (0.015 s, where creating
# them through the API costs 0.06 s, a third of the fast set).
_EMPTY_STAGE: dict = {}


def _empty_stage():
    import copy

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends

    from chalicelib.settings import get_settings
    from chalicelib.store.tables import ensure_tables

    settings = get_settings()
    names = (settings.tokens_table, settings.directory_table, settings.uploads_table, settings.audit_table,
             settings.uploads_bucket)
    tables = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]].tables
    buckets = s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets
    if names not in _EMPTY_STAGE:
        ensure_tables(fresh=True)
        _EMPTY_STAGE[names] = (copy.deepcopy(tables), copy.deepcopy(buckets))
    else:
        empty_tables, empty_buckets = _EMPTY_STAGE[names]
        tables.update(copy.deepcopy(empty_tables))
        buckets.update(copy.deepcopy(empty_buckets))


@pytest.fixture
def aws():
    """Fresh in-process DynamoDB/S3 with the service's tables."""
    with mock_aws():
        _empty_stage()
        yield


@pytest.fixture(autouse=True)
def root():
    """The composition root (chalicelib.wiring) that the app, the authorizer
    and the CLI take their services from, fresh for each test. The one seam
    where a test replaces a piece: `root.token_store = fake` before its first
    use, or `rewire(clock=..., settings=..., part=...)` for a whole new root."""
    from chalicelib import wiring

    fresh = wiring.Root()
    previous = wiring.install(fresh)
    yield fresh
    wiring.install(previous)


@pytest.fixture
def rewire(root):
    """Install `Root(**kwargs)` as the process's root for this test; it is returned."""
    from chalicelib import wiring

    def install(**kwargs):
        new = wiring.Root(**kwargs)
        wiring.install(new)
        return new

    return install


@pytest.fixture
def admin(aws, root):
    return root.admin


@pytest.fixture
def make(admin):
    return Made(admin)


@pytest.fixture
def client(aws):
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="dev") as test_client:
        yield test_client


@pytest.fixture
def api(client):
    return Api(client)


# -- the whole service over HTTP (scripts/run_local.py as a subprocess) --------

@pytest.fixture(scope="session")
def local_server(tmp_path_factory):
    """`make run` on free ports with its own state file, and its demo data
    (gh/demo/hello, whose admin holds `.account`; `.project` is its token)."""
    from tests.localserver import LocalServer

    server = LocalServer(tmp_path_factory.mktemp("local") / "state.json").start()
    yield server
    server.stop()


@pytest.fixture
def clock():
    """A movable clock (tests.helpers.Clock) for the code under test."""
    return Clock()


@pytest.fixture
def faults(monkeypatch):
    """Record AWS calls and fail chosen ones (see tests/faults.py)."""
    from tests.faults import Faults

    return Faults().install(monkeypatch)


def reset_aws_connections() -> None:
    """Drop PynamoDB's cached connections so the next call builds a client
    for the current endpoint (AWS_ENDPOINT_URL) or mock."""
    from pynamodb.models import Model

    from chalicelib.store import tokens, uploads

    pending = [Model]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not Model:
            cls._connection = None
    tokens._touch_connection.cache_clear()
    uploads.s3_client.cache_clear()


@pytest.fixture
def moto_server(monkeypatch):
    """A real moto server on a free 127.0.0.1 port, with the service's tables,
    for tests that need real HTTP and many threads.

    moto applies a DynamoDB call in several Python steps with no lock, which
    DynamoDB does atomically per item and per transaction: each call is
    serialized here as in `make run` (scripts/local_aws.py), so races
    observed are the service's, not moto's.
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.server import ThreadedMotoServer

    from scripts.local_aws import serialised_operations

    for name, method in serialised_operations().items():
        monkeypatch.setattr(DynamoDBBackend, name, method)
    from scripts.ports import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    reset_aws_connections()
    try:
        from chalicelib.store.tables import ensure_tables

        ensure_tables()
        yield url
    finally:
        server.stop()
        reset_aws_connections()
        from moto.core.base_backend import BackendDict

        BackendDict.reset()  # the next test starts from empty tables


def pytest_terminal_summary(terminalreporter):
    """What the tests counted on their way (`tests.helpers.tally`): faults
    injected, races run, matrix cells, cases fuzzed."""
    from tests.helpers import TALLY

    if TALLY:
        terminalreporter.section("counted")
        for what, count in sorted(TALLY.items()):
            terminalreporter.write_line(f"{what}: {count}")


# -- callers of every kind (the isolation matrix and the contract tests) ------
@pytest.fixture
def callers(make, admin):
    return build_callers(make, admin)
