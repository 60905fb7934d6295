"""describe: the connector registers once, and its settings schema is sound."""

from __future__ import annotations

import re

from hub.canonical import ConnectorInfo, Role
from hub.testing.kit.declaration import check
from hub.testing.kit.expect import json_ready

#: Settings with these words in their names hold secrets and must be marked so.
SECRET_NAMES = re.compile(r"secret|token|password|passwd|api_?key|private", re.I)


class DescribeSuite:
    """The connector's registration, settings schema and control API."""

    @check("describe", "registers_once")
    def test_describe_registers_once(self, kit):
        loaded = kit.connectors.get(kit.name)
        found: list[ConnectorInfo] = []
        for impl in kit.connectors.pm.hook.register_connectors.get_hookimpls():
            if impl.plugin is loaded.plugin:
                impl.function(register=found.append)

        named = [info for info in found if info.name == kit.name]
        assert len(named) == 1, (
            f"register_connectors registered {kit.name!r} {len(named)} times; "
            "register it once."
        )
        info = named[0]
        assert info.label.strip(), "Give the connector a label people can read."
        assert isinstance(info.role, Role), "role must be Role.SALES or Role.CARE."
        assert all(isinstance(p, str) and p for p in info.webhook_purposes), (
            "webhook_purposes must be a tuple of names such as 'contact.created'."
        )
        assert len(set(info.provision_steps)) == len(info.provision_steps), (
            "provision_steps names a step twice."
        )

    @check("describe", "distribution_named")
    def test_describe_distribution_named(self, kit):
        distribution = kit.connectors.get(kit.name).distribution

        assert distribution.startswith("carehub-"), (
            f"The distribution {distribution!r} should be named carehub-<crm>, so "
            "people find it next to the others."
        )

    @check("describe", "settings_load_and_dump")
    def test_describe_settings_load_and_dump(self, kit):
        schema = kit.info.settings_schema()
        account = kit.new_account()

        loaded = schema.load(self.good_settings(account))
        dumped = schema.dump(loaded)

        json_ready(dumped, "The settings schema's dump")
        assert schema.load(dumped) == loaded, (
            "Loading what the settings schema dumped gives other settings; make "
            "load and dump agree."
        )

    @check("describe", "secrets_marked")
    def test_describe_secrets_marked(self, kit):
        info = kit.info
        secret = info.secret_fields()
        unmarked = sorted(
            name
            for name in info.settings_schema().fields
            if SECRET_NAMES.search(name) and name not in secret
        )
        assert not unmarked, (
            f"The settings {unmarked} look secret but are not marked; add "
            "metadata={'secret': True} to their fields."
        )

        handle = kit.new_connection()
        stored = kit.stored(handle)
        plain = json_ready(stored["settings"], "The plain settings")
        for name in secret:
            value = stored["all"].get(name)
            if isinstance(value, str) and len(value) >= 6:
                assert value not in plain, f"The secret {name} is stored in plain."
                assert value not in stored["credentials_encrypted"]

    @check("describe", "control_api")
    def test_describe_control_api(self, kit):
        account = kit.new_account()
        counters = kit.control.counters(account=self.counter_account(account))
        kit.control.fault(1, latency_ms=1, path_prefix="/_carehub_kit_nowhere")
        kit.control.advance_clock(0)

        assert isinstance(account, dict) and account, (
            "POST _control/accounts must answer the credentials as a JSON object."
        )
        assert isinstance(counters.get("reads"), int), "counters need 'reads'."
        assert isinstance(counters.get("writes"), int), "counters need 'writes'."
        assert isinstance(counters.get("by_path"), dict), "counters need 'by_path'."
