"""Each hook, called through the facade, reaches only the named connector."""

from __future__ import annotations

from hub import (
    Applied,
    Change,
    ChangeKind,
    ConnectorInfo,
    Direction,
    Inbound,
    Prospect,
    ProspectStatus,
    RecordRef,
    Role,
    hookimpl,
)
from hub.extensions import db
from hub.models import Agency, Connection


def facade(app):
    return app.extensions["hub.connectors"]


def rows(app, connection_id):
    connection = db.session.get(Connection, connection_id)
    return connection.agency, connection


def test_hook_register_connectors(app):
    info = facade(app).info("paper")

    assert info.label == "Paper CRM"
    assert info.role is Role.SALES
    assert info.secret_fields() == {"api_key"}
    assert facade(app).names() == ["paper"]


def test_hook_connect(app, connection):
    with app.app_context():
        agency, conn = rows(app, connection)
        connected = facade(app).connect("paper", agency, conn)

    assert connected.account == "Paper eu"


def test_hook_provision(app, connection, paper):
    reports = []
    with app.app_context():
        agency, conn = rows(app, connection)
        facts = facade(app).provision(
            "paper", agency, conn, lambda *step: reports.append(step)
        )
        assert conn.state == {"folder": "sunrise-folder"}

    assert facts is None
    assert reports == [
        ("folder", "running", ""),
        ("folder", "done", "The folder is there."),
    ]


def test_hook_receive_event(app, connection):
    inbound = Inbound(
        method="POST",
        url="http://127.0.0.1:5000/hooks/paper/t",
        headers={"x-paper-secret": "paper-canary-key-1234"},
        body=b'{"id": 9, "kind": "created", "delivery": "d9"}',
        query={},
    )
    with app.app_context():
        agency, conn = rows(app, connection)
        [change] = facade(app).receive_event("paper", agency, conn, inbound)

    assert change.kind is ChangeKind.CREATED
    assert change.ref == RecordRef("contact", "9")
    assert change.dedup_key == "d9"


def test_hook_fetch_record(app, connection, paper):
    paper.records["4"] = Prospect(first_name="Ada")
    with app.app_context():
        _, conn = rows(app, connection)
        found = facade(app).fetch_record("paper", conn, RecordRef("contact", "4"))
        missing = facade(app).fetch_record("paper", conn, RecordRef("contact", "5"))

    assert found.first_name == "Ada"
    assert missing is None


def test_hook_map_status(app, connection):
    with app.app_context():
        _, conn = rows(app, connection)
        native = facade(app).map_status(
            "paper", conn, ProspectStatus.CARE_STARTED, Direction.TO_NATIVE
        )
        back = facade(app).map_status("paper", conn, native, Direction.FROM_NATIVE)

    assert native == "care_started"
    assert back is ProspectStatus.CARE_STARTED


def test_hook_apply_change(app, connection, paper):
    prospect = Prospect(first_name="Ada", last_name="Byron")
    change = Change(ChangeKind.CREATED, prospect=prospect, link_key="k1")
    with app.app_context():
        agency, conn = rows(app, connection)
        applied = facade(app).apply_change("paper", agency, conn, change)

    assert isinstance(applied, Applied)
    assert applied.remote_ids == {"contact": "1"}
    assert applied.fingerprint == prospect.fingerprint()
    assert paper.records["1"] == prospect


def test_hook_fetch_changes(app, connection, paper):
    paper.records.update({"1": Prospect(), "2": Prospect()})
    with app.app_context():
        _, conn = rows(app, connection)
        first = facade(app).fetch_changes("paper", conn, None)
        paper.records["3"] = Prospect()
        second = facade(app).fetch_changes("paper", conn, first.cursor)

    assert [c.ref.id for c in first.changes] == ["1", "2"]
    assert [c.ref.id for c in second.changes] == ["3"]


def test_hook_fetch_records(app, connection, paper):
    paper.records.update({"4": Prospect(first_name="Ada"), "6": Prospect()})
    refs = [RecordRef("contact", "4"), RecordRef("contact", "5")]
    with app.app_context():
        _, conn = rows(app, connection)
        found = facade(app).fetch_records("paper", conn, [*refs, refs[0]])

    # Paper has no fetch_records: the facade reads each ref once with fetch_record.
    assert found == {refs[0]: Prospect(first_name="Ada"), refs[1]: None}
    assert paper.calls.count("fetch_record") == 2


def test_hook_list_records(app, connection, paper):
    paper.records.update({str(n): Prospect(first_name=f"P{n}") for n in range(1, 6)})
    pages = []
    with app.app_context():
        _, conn = rows(app, connection)
        after = None
        while True:
            page = facade(app).list_records("paper", conn, after, 2)
            pages.append([record.ref.id for record in page.records])
            if page.after is None:
                break
            after = page.after

    assert pages == [["1", "2"], ["3", "4"], ["5"]]


def test_hook_apply_changes(app, connection, paper):
    changes = [
        Change(ChangeKind.CREATED, prospect=Prospect(first_name=name), link_key=name)
        for name in ("Ada", "Grace")
    ]
    with app.app_context():
        agency, conn = rows(app, connection)
        applied = facade(app).apply_changes("paper", agency, conn, changes)
        assert facade(app).apply_changes("paper", agency, conn, []) == []

    # Paper has no apply_changes: the facade applies each change in order.
    assert [a.remote_ids for a in applied] == [{"contact": "1"}, {"contact": "2"}]
    assert paper.records["2"].first_name == "Grace"


class Batched:
    """A care connector that reads and writes many records in one call each."""

    def __init__(self, answer_short=False):
        self.calls = []
        self.answer_short = answer_short

    @hookimpl
    def register_connectors(self, register):
        register(ConnectorInfo("batched", "Batched", Role.CARE, settings_schema=object))

    @hookimpl
    def fetch_records(self, refs):
        self.calls.append(("fetch_records", len(refs)))
        return {ref: Prospect(first_name=ref.id) for ref in refs if ref.id != "gone"}

    @hookimpl
    def apply_changes(self, changes):
        self.calls.append(("apply_changes", len(changes)))
        applied = [Applied({"patient": c.link_key}) for c in changes]
        return applied[:-1] if self.answer_short else applied


def test_batch_hooks_are_called_once_for_many_records(tmp_path):
    from hub import create_app
    from hub.errors import PluginError
    from hub.testing.server import test_config

    batched = Batched()
    app = create_app(test_config(tmp_path, HUB_PLUGINS=[batched]))
    refs = [RecordRef("patient", "1"), RecordRef("patient", "gone")]
    changes = [Change(ChangeKind.UPDATED, link_key=key) for key in ("a", "b")]
    with app.app_context():
        agency = Agency(slug="a", name="A", settings={})
        conn = Connection(agency=agency, connector="batched", settings={})
        found = facade(app).fetch_records("batched", conn, refs)
        applied = facade(app).apply_changes("batched", agency, conn, changes)
        batched.answer_short = True
        try:
            facade(app).apply_changes("batched", agency, conn, changes)
        except PluginError as exc:
            refusal = str(exc)

    assert found == {refs[0]: Prospect(first_name="1"), refs[1]: None}
    assert [a.remote_ids for a in applied] == [{"patient": "a"}, {"patient": "b"}]
    assert batched.calls == [
        ("fetch_records", 2),
        ("apply_changes", 2),
        ("apply_changes", 2),
    ]
    assert "one Applied for each change" in refusal


class Carbon:
    """A second inline connector answering the same hooks under another name."""

    @hookimpl
    def register_connectors(self, register):
        register(ConnectorInfo("carbon", "Carbon", Role.CARE, settings_schema=object))

    @hookimpl
    def map_status(self, status, direction):
        return "carbon:" + status.name


def test_the_facade_calls_only_the_named_connector(tmp_path, paper):
    from hub import create_app
    from hub.testing.server import test_config

    app = create_app(test_config(tmp_path, HUB_PLUGINS=[paper, Carbon()]))
    connectors = facade(app)
    with app.app_context():
        agency = Agency(slug="a", name="A", settings={})
        conn = Connection(agency=agency, connector="carbon", settings={})
        paper_says = connectors.map_status(
            "paper", conn, ProspectStatus.NEW_LEAD, Direction.TO_NATIVE
        )
        carbon_says = connectors.map_status(
            "carbon", conn, ProspectStatus.NEW_LEAD, Direction.TO_NATIVE
        )

    assert connectors.names() == ["carbon", "paper"]
    assert (paper_says, carbon_says) == ("new_lead", "carbon:NEW_LEAD")
    assert paper.calls == []
    assert connectors.hooks_of("carbon") == ["map_status"]


def test_saving_settings_keeps_secrets_the_connector_made_up(app, connection):
    from hub.settings import save_settings

    with app.app_context():
        conn = db.session.get(Connection, connection)
        conn.set_secret("webhook_header", "made-up-by-the-connector")
        save_settings(conn, facade(app).info("paper"), {"api_key": "", "region": ""})

        assert conn.credentials == {
            "api_key": "paper-canary-key-1234",
            "webhook_header": "made-up-by-the-connector",
        }
        assert conn.settings == {"region": "eu"}
        assert conn.credential_rotated_at is None


def test_saving_a_new_secret_marks_the_credential_rotated(app, connection):
    from hub.errors import BadRequest
    from hub.settings import save_settings

    with app.app_context():
        conn = db.session.get(Connection, connection)
        info = facade(app).info("paper")
        save_settings(conn, info, {"api_key": "a-new-key-5678"})
        try:
            save_settings(conn, info, {"region": 42})
        except BadRequest as exc:
            refusal = exc.message

        assert conn.credentials["api_key"] == "a-new-key-5678"
        assert conn.credential_rotated_at is not None
    assert "region: Not a valid string." in refusal
