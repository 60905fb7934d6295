"""A plugin whose author misspelt a hook's name."""

from hub import hookimpl


@hookimpl
def provison(connector, agency, connection, report):
    return None
