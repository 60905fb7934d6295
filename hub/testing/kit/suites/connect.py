"""connect: good settings connect; bad ones fail with the hub's error, never a crash."""

from __future__ import annotations

from hub.canonical import Connected
from hub.errors import BadRequest, HubError, PluginError
from hub.testing.kit.declaration import check
from hub.testing.kit.expect import json_ready, raises, succeeds, well_written


def secret_values(settings: dict) -> list[str]:
    """Return the string values of settings, which a message must not show."""
    return [v for v in settings.values() if isinstance(v, str)]


class ConnectSuite:
    """``connect`` against the sandbox, with good and bad settings."""

    @check("connect", "good_settings")
    def test_connect_good_settings(self, kit):
        handle = kit.new_connection()

        found = succeeds(lambda: kit.connect(handle), "connect with good settings")

        assert isinstance(found, Connected), (
            f"connect returned {found!r}; return a hub.Connected."
        )
        assert isinstance(found.account, str) and found.account.strip(), (
            "Connected.account must name the remote account for people."
        )
        shown = json_ready(dict(found.facts), "Connected.facts") + found.account
        secrets = [
            str(kit.stored(handle)["all"].get(name))
            for name in kit.info.secret_fields()
        ]
        assert not [s for s in secrets if len(s) >= 6 and s in shown], (
            "connect shows a secret setting in its account or facts."
        )

    @check("connect", "bad_settings")
    def test_connect_bad_settings(self, kit):
        account = kit.new_account()
        variants = self.bad_settings(account)
        variants = [variants] if isinstance(variants, dict) else list(variants)
        assert variants, "bad_settings returned nothing to try."

        for settings in variants:
            secrets = secret_values(settings) + secret_values(
                self.good_settings(account)
            )
            try:
                handle = kit.new_connection(settings, account=account)
            except BadRequest as refused:
                well_written(refused, secrets)
                continue
            error = raises(
                HubError, lambda h=handle: kit.connect(h), "connect with bad settings"
            )
            assert not isinstance(error, PluginError), (
                f"connect with bad settings raised PluginError: {error.message} A "
                "refusal is an AuthenticationFailed, PermissionDenied or "
                "NeedsAttention that says what to fix."
            )
            well_written(error, secrets)
