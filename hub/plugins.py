"""Loading connector plugins, and the typed facade the core calls them through."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from hub import hookspecs
from hub.canonical import (
    AgencyFacts,
    Applied,
    Change,
    ChangeBatch,
    Connected,
    ConnectorInfo,
    Direction,
    Inbound,
    Prospect,
    ProspectStatus,
    RecordPage,
    RecordRef,
    Report,
)
from hub.errors import NotFound, PluginError

log = logging.getLogger(__name__)

#: The entry-point group a connector distribution registers under.
ENTRY_POINT_GROUP = "carehub"


@dataclass(frozen=True)
class LoadedConnector:
    """A registered connector and where it came from."""

    info: ConnectorInfo
    plugin: object
    plugin_name: str
    distribution: str
    version: str


def make_plugin_manager() -> pluggy.PluginManager:
    """Return a plugin manager that knows the connector hookspecs."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)

    return pm


def load_entry_points(
    pm: pluggy.PluginManager, allow: Iterable[str] | None = None
) -> dict[str, str]:
    """Register the plugins of the ``carehub`` entry-point group.

    :param allow: entry-point names to load; ``None`` loads all of them.
    :return: each registered plugin's name and the distribution that ships it.
    """
    allowed = None if allow is None else set(allow)
    loaded = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            log.info("Skipping connector plugin %s: not in HUB_LOAD_PLUGINS.", ep.name)
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(
                f"The connector plugin {ep.name!r} ({ep.value}) failed to import: "
                f"{exc}. Reinstall it, or leave it out with HUB_LOAD_PLUGINS."
            ) from exc
        pm.register(plugin, name=ep.name)
        loaded[ep.name] = ep.dist.name if ep.dist else ep.name

    return loaded


class Connectors:
    """The typed facade over ``pm.hook``: one method per hook, one connector a call.

    The rest of the core calls connectors only through this class, so no raw keyword
    arguments reach a plugin and a hook is only ever answered by the named connector.
    """

    def __init__(
        self, pm: pluggy.PluginManager, distributions: dict[str, str] | None = None
    ) -> None:
        self.pm = pm
        self.distributions = distributions or {}
        self._connectors: dict[str, LoadedConnector] = {}
        self._callers: dict[tuple[str, str], Any] = {}

    def discover(self) -> None:
        """Check every hook implementation and collect the registered connectors.

        :raises PluginError: for an unknown hook, a bad signature, or two connectors
            with one name.
        """
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.pm.get_name(exc.plugin) or repr(exc.plugin)
            raise PluginError(
                f"The connector plugin {name!r} implements a hook the hub "
                f"does not have: {exc}. Check the hook's name against docs/hooks.md."
            ) from exc

        self._connectors.clear()
        self._callers.clear()
        for impl in self.pm.hook.register_connectors.get_hookimpls():
            found: list[ConnectorInfo] = []
            impl.function(register=found.append)
            for info in found:
                self._add(info, impl.plugin, impl.plugin_name)

    def _add(self, info, plugin, plugin_name) -> None:
        if not isinstance(info, ConnectorInfo):
            raise PluginError(
                f"The plugin {plugin_name!r} registered {info!r}; "
                "register() takes a ConnectorInfo."
            )
        distribution = self.distributions.get(plugin_name) or plugin_name
        other = self._connectors.get(info.name)
        if other is not None:
            raise PluginError(
                f"Two connectors are named {info.name!r}: one from "
                f"{other.distribution!r} and one from {distribution!r}. "
                "Uninstall one, or leave one out with HUB_LOAD_PLUGINS."
            )
        version = info.version or _version_of(distribution)
        self._connectors[info.name] = LoadedConnector(
            info, plugin, plugin_name, distribution, version
        )

    # -- what is installed ------------------------------------------------------

    def names(self) -> list[str]:
        """Return the registered connectors' names, sorted."""
        return sorted(self._connectors)

    def all(self) -> list[LoadedConnector]:
        """Return every registered connector, sorted by name."""
        return [self._connectors[name] for name in self.names()]

    def get(self, name: str) -> LoadedConnector:
        """Return one registered connector.

        :raises NotFound: when no connector has the name.
        """
        try:
            return self._connectors[name]
        except KeyError:
            raise NotFound(f"No connector named {name!r} is installed.") from None

    def info(self, name: str) -> ConnectorInfo:
        """Return a connector's ``ConnectorInfo``."""
        return self.get(name).info

    def hooks_of(self, name: str) -> list[str]:
        """Return the names of the hooks a connector's plugin implements."""
        plugin = self.get(name).plugin
        return sorted(
            caller.name
            for caller in self.pm.get_hookcallers(plugin) or []
            if caller.name != "register_connectors"
        )

    def implements(self, connector: str, hook: str) -> bool:
        """Return whether a connector implements a hook."""
        return bool(self._caller(hook, connector).get_hookimpls())

    def _caller(self, hook: str, connector: str):
        key = (hook, connector)
        caller = self._callers.get(key)
        if caller is None:
            own = self.get(connector).plugin
            others = [p for p in self.pm.get_plugins() if p is not own]
            caller = self.pm.subset_hook_caller(hook, remove_plugins=others)
            self._callers[key] = caller
        return caller

    def _call(self, hook: str, connector: str, **kwargs: Any) -> Any:
        caller = self._caller(hook, connector)
        if not caller.get_hookimpls():
            raise PluginError(
                f"The connector {connector!r} does not implement the hook {hook!r}."
            )

        return caller(connector=connector, **kwargs)

    # -- the hooks ----------------------------------------------------------------

    def connect(self, connector: str, agency, connection) -> Connected:
        """Check a connection's credentials and return what was found."""
        return self._call("connect", connector, agency=agency, connection=connection)

    def provision(
        self, connector: str, agency, connection, report: Report
    ) -> AgencyFacts | None:
        """Make the remote ready; return agency facts the connector found."""
        return self._call(
            "provision", connector, agency=agency, connection=connection, report=report
        )

    def receive_event(
        self, connector: str, agency, connection, inbound: Inbound
    ) -> list[Change]:
        """Verify and parse one webhook into changes."""
        changes = self._call(
            "receive_event",
            connector,
            agency=agency,
            connection=connection,
            inbound=inbound,
        )

        return list(changes or [])

    def fetch_record(
        self, connector: str, connection, ref: RecordRef
    ) -> Prospect | None:
        """Read one remote object back as a prospect."""
        return self._call("fetch_record", connector, connection=connection, ref=ref)

    def fetch_records(
        self, connector: str, connection, refs: Iterable[RecordRef]
    ) -> dict[RecordRef, Prospect | None]:
        """Read many remote objects back at once, one ``fetch_record`` each when the
        connector has no ``fetch_records``; a ref the answer leaves out is gone."""
        refs = list(dict.fromkeys(refs))
        if not refs:
            return {}
        if not self.implements(connector, "fetch_records"):
            return {ref: self.fetch_record(connector, connection, ref) for ref in refs}
        found = self._call("fetch_records", connector, connection=connection, refs=refs)
        found = dict(found or {})
        return {ref: found.get(ref) for ref in refs}

    def list_records(
        self, connector: str, connection, after: str | None, limit: int
    ) -> RecordPage:
        """Return one page of the people the remote holds, from ``after``."""
        page = self._call(
            "list_records", connector, connection=connection, after=after, limit=limit
        )
        if not isinstance(page, RecordPage):
            raise PluginError(
                f"The connector {connector!r} answered list_records with {page!r}; "
                "it must return a RecordPage."
            )
        return page

    def map_status(
        self, connector: str, connection, status: Any, direction: Direction
    ) -> Any:
        """Translate a status to the connector's native value or back."""
        result = self._call(
            "map_status",
            connector,
            connection=connection,
            status=status,
            direction=Direction(direction),
        )
        if direction == Direction.FROM_NATIVE and not isinstance(
            result, ProspectStatus | None
        ):
            raise PluginError(
                f"The connector {connector!r} mapped {status!r} to {result!r}; "
                "map_status from_native must return a ProspectStatus or None."
            )

        return result

    def apply_change(
        self, connector: str, agency, connection, change: Change
    ) -> Applied:
        """Write a change into the remote."""
        return self._call(
            "apply_change",
            connector,
            agency=agency,
            connection=connection,
            change=change,
        )

    def apply_changes(
        self, connector: str, agency, connection, changes: list[Change]
    ) -> list[Applied]:
        """Write many changes, in one go when the connector can; return one
        ``Applied`` for each, in order."""
        changes = list(changes)
        if not changes:
            return []
        if not self.implements(connector, "apply_changes"):
            return [
                self.apply_change(connector, agency, connection, change)
                for change in changes
            ]
        applied = list(
            self._call(
                "apply_changes",
                connector,
                agency=agency,
                connection=connection,
                changes=changes,
            )
            or []
        )
        if len(applied) != len(changes):
            raise PluginError(
                f"The connector {connector!r} answered apply_changes for "
                f"{len(changes)} change(s) with {len(applied)} result(s); it must "
                "return one Applied for each change, in order."
            )
        return applied

    def fetch_changes(
        self, connector: str, connection, cursor: str | None
    ) -> ChangeBatch:
        """Return what changed on the remote since the cursor."""
        return self._call(
            "fetch_changes", connector, connection=connection, cursor=cursor
        )


def _version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ""


def init_app(app, plugins: Iterable[object] = ()) -> Connectors:
    """Load the connector plugins for an app and keep the facade in its extensions.

    :param plugins: plugin objects to register besides the entry points, such as a
        test's inline plugin.
    """
    pm = make_plugin_manager()
    distributions = {}
    if app.config["HUB_LOAD_ENTRY_POINTS"]:
        distributions = load_entry_points(pm, app.config["HUB_LOAD_PLUGINS"])
    for plugin in plugins:
        pm.register(plugin)

    connectors = Connectors(pm, distributions)
    connectors.discover()
    app.extensions["hub.connectors"] = connectors
    log.info("Connectors loaded: %s", ", ".join(connectors.names()) or "none")

    return connectors
