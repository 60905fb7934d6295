"""The connector conformance kit: every suite a connector must pass, as one class.

A connector's test module turns the kit on by subclassing :class:`ConnectorKit`::

    class TestPaperConformance(ConnectorKit):
        connector = "paper"

        def good_settings(self, account):
            return {"api_key": account["api_key"]}

See ``docs/connectors.md`` for everything a kit class may declare.
"""

from hub.testing.kit.declaration import SUITES, Declaration, NotDeclared, check
from hub.testing.kit.suites.connect import ConnectSuite
from hub.testing.kit.suites.describe import DescribeSuite
from hub.testing.kit.suites.limits import LimitsSuite
from hub.testing.kit.suites.provision import ProvisionSuite
from hub.testing.kit.suites.receive import ReceiveSuite
from hub.testing.kit.suites.records import RecordsSuite
from hub.testing.kit.suites.status import StatusSuite
from hub.testing.kit.world import Handle, KitWorld, Reports


class ConnectorKit(
    Declaration,
    LimitsSuite,
    RecordsSuite,
    StatusSuite,
    ReceiveSuite,
    ProvisionSuite,
    ConnectSuite,
    DescribeSuite,
):
    """Every suite of the kit; subclass it as ``Test<Name>Conformance``.

    pytest collects base classes last-first, so the suites run from describe to
    limits.
    """


__all__ = [
    "SUITES",
    "ConnectorKit",
    "Declaration",
    "Handle",
    "KitWorld",
    "NotDeclared",
    "Reports",
    "check",
]
