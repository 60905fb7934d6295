"""The cookie session, left closed for webhooks.

Vendors send webhooks without cookies, so the ingress has no session to read;
opening one for each webhook (a signing serializer made, a cookie looked for)
would cost it a sixth of its time for nothing.
"""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

#: Paths whose requests never carry a session: the webhook ingress's.
SESSIONLESS = ("/hooks/",)


class HubSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, except for webhooks, which get Flask's null
    session: readable and empty, never saved, so no cookie is set or varied on."""

    def open_session(self, app, request):
        if request.path.startswith(SESSIONLESS):
            return None
        return super().open_session(app, request)


def init_app(app) -> None:
    """Serve the app's sessions through :class:`HubSessionInterface`."""
    app.session_interface = HubSessionInterface()
