"""The connector contract: the hooks a connector implements.

Every hook but ``register_connectors`` takes ``connector``, the name of the connector
being asked, and the hub calls only that connector's implementation. An
implementation may take any subset of a hook's arguments. ``docs/hooks.md`` documents
each hook with an example.
"""

import pluggy

PROJECT = "carehub"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_connectors(register):
    """Call ``register(ConnectorInfo(...))`` once for each connector the plugin has."""


@hookspec(firstresult=True)
def connect(connector, agency, connection):
    """Check the connection's credentials; return ``Connected`` or raise HubError."""


@hookspec(firstresult=True)
def provision(connector, agency, connection, report):
    """Make the remote ready, idempotently; return ``AgencyFacts`` or None."""


@hookspec(firstresult=True)
def receive_event(connector, agency, connection, inbound):
    """Verify and parse one inbound webhook; return a list of ``Change``."""


@hookspec(firstresult=True)
def fetch_record(connector, connection, ref):
    """Read one remote object; return a ``Prospect``, or None when it is gone."""


@hookspec(firstresult=True)
def fetch_records(connector, connection, refs):
    """Read many remote objects at once; return ``{ref: Prospect or None}``.

    Optional: without it the hub calls ``fetch_record`` once for each ref.
    """


@hookspec(firstresult=True)
def list_records(connector, connection, after, limit):
    """Return a ``RecordPage`` of the people the remote holds, from ``after``."""


@hookspec(firstresult=True)
def map_status(connector, connection, status, direction):
    """Translate a status: ``ProspectStatus`` to a native value, or back."""


@hookspec(firstresult=True)
def apply_change(connector, agency, connection, change):
    """Write a ``Change`` into the remote; return ``Applied``."""


@hookspec(firstresult=True)
def apply_changes(connector, agency, connection, changes):
    """Write many ``Change``s at once; return one ``Applied`` for each, in order.

    Optional: without it the hub calls ``apply_change`` once for each change.
    """


@hookspec(firstresult=True)
def fetch_changes(connector, connection, cursor):
    """Return a ``ChangeBatch`` of what changed since ``cursor`` (None: from now)."""
