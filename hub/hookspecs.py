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
def map_status(connector, connection, status, direction):
    """Translate a status: ``ProspectStatus`` to a native value, or back."""


@hookspec(firstresult=True)
def apply_change(connector, agency, connection, change):
    """Write a ``Change`` into the remote; return ``Applied``."""


@hookspec(firstresult=True)
def fetch_changes(connector, connection, cursor):
    """Return a ``ChangeBatch`` of what changed since ``cursor`` (None: from now)."""
