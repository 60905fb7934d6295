"""Writing a new connector distribution from the templates in ``template/``.

``flask --app wsgi hub new-connector NAME --output DIR`` calls
:func:`write_connector`.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from hub.errors import BadRequest

#: A connector's name: lower case, as it appears in URLs and entry points.
NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
ROLES = ("sales", "care")


def write_connector(
    name: str, output: Path, label: str | None = None, role: str = "sales"
) -> Path:
    """Write ``output/carehub-<name>/`` from the templates; return that folder.

    :raises BadRequest: for a name that cannot be a connector's, an unknown role,
        or a folder that exists already.
    """
    if not NAME.match(name):
        raise BadRequest(
            f"{name!r} cannot name a connector: use 2 to 31 lower-case letters, "
            "digits or underscores, starting with a letter, such as 'pipedrive'."
        )
    if role not in ROLES:
        raise BadRequest(f"The role must be one of {', '.join(ROLES)}, not {role!r}.")
    target = Path(output) / f"carehub-{name}"
    if target.exists():
        raise BadRequest(
            f"{target} exists already; remove it or pick another --output."
        )

    label = label or name.replace("_", " ").title()
    values = {
        "@@name@@": name,
        "@@label@@": label,
        "@@Class@@": "".join(part.title() for part in name.split("_")),
        "@@ROLE@@": role.upper(),
    }
    template = resources.files("hub.scaffold") / "template"
    for source, relative in _templates(template):
        relative = relative.replace("package/", f"carehub_{name}/", 1)
        path = target / relative.removesuffix(".tmpl")
        path.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text()
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        path.write_text(text)

    return target


def _templates(folder, prefix: str = ""):
    """Yield each template file under a folder with its path relative to it."""
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _templates(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".tmpl"):
            yield entry, f"{prefix}{entry.name}"
