"""``flask --app wsgi hub …``: the commands operators and ``make run`` use."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup
from werkzeug.security import generate_password_hash

from hub.extensions import db
from hub.models import Agency, Connection, ProvisioningJob, Role, User, WebhookEndpoint

log = logging.getLogger(__name__)

group = AppGroup("hub", help="Run and look after the hub.")


@group.command("connectors")
def connectors_command() -> None:
    """List the installed connectors, their versions and their hooks."""
    connectors = current_app.extensions["hub.connectors"]
    if not connectors.names():
        click.echo("No connectors are installed.")
        return

    for loaded in connectors.all():
        info = loaded.info
        click.echo(
            f"{info.name} ({info.label}, {info.role.value}) "
            f"from {loaded.distribution} {loaded.version}".rstrip()
        )
        click.echo(f"  hooks: {', '.join(connectors.hooks_of(info.name))}")
        if info.webhook_purposes:
            click.echo(f"  webhooks: {', '.join(info.webhook_purposes)}")
        click.echo(f"  sandbox: {'yes' if info.sandbox else 'no'}")


@group.command("create-agency")
@click.argument("slug")
@click.option("--name", help="The agency's name as people see it.")
def create_agency_command(slug: str, name: str | None) -> None:
    """Create an agency, or say that it exists."""
    agency = db.session.scalar(sa.select(Agency).filter_by(slug=slug))
    if agency is not None:
        click.echo(f"The agency {slug!r} exists already.")
        return

    db.session.add(Agency(slug=slug, name=name or slug, settings={}))
    db.session.commit()
    click.echo(f"Created the agency {slug!r}.")


@group.command("create-admin")
@click.argument("email")
@click.option("--agency", help="The agency's slug; leave out for an operator.")
@click.option("--operator", is_flag=True, help="Make an operator of all agencies.")
@click.password_option(help="The sign-in password (asked for when left out).")
def create_admin_command(
    email: str, agency: str | None, operator: bool, password: str
) -> None:
    """Create an agency admin or an operator, or reset an existing one's password."""
    if operator == bool(agency):
        raise click.UsageError("Give either --agency SLUG or --operator.")
    if len(password) < 10:
        raise click.UsageError("The password must be at least 10 characters long.")

    agency_row = None
    if agency:
        agency_row = db.session.scalar(sa.select(Agency).filter_by(slug=agency))
        if agency_row is None:
            raise click.UsageError(
                f"There is no agency {agency!r}; create it with 'hub create-agency'."
            )

    user = db.session.scalar(sa.select(User).filter_by(email=email.lower()))
    verb = "Updated"
    if user is None:
        user = User(email=email.lower())
        db.session.add(user)
        verb = "Created"
    user.password_hash = generate_password_hash(password)
    user.role = (Role.OPERATOR if operator else Role.ADMIN).value
    user.agency = agency_row
    db.session.commit()
    click.echo(f"{verb} the {user.role} {user.email}.")


@group.command("rotate-keys")
def rotate_keys_command() -> None:
    """Re-encrypt every stored secret under the first of HUB_ENCRYPTION_KEYS."""
    from hub.crypto import vault

    keys = vault()
    connections = db.session.scalars(sa.select(Connection)).all()
    for connection in connections:
        if connection.credentials_encrypted:
            connection.credentials_encrypted = keys.rotate(
                connection.credentials_encrypted
            )
    endpoints = db.session.scalars(sa.select(WebhookEndpoint)).all()
    for endpoint in endpoints:
        token = endpoint.token
        endpoint.token_encrypted = keys.encrypt(token)
        endpoint.token_hash = keys.token_hash(token)
    db.session.commit()
    click.echo(
        f"Re-encrypted the credentials of {len(connections)} connection(s) and "
        f"{len(endpoints)} webhook token(s). Older keys can now be removed."
    )


@group.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=int)
def sandbox_command(host: str, port: int) -> None:
    """Serve the connectors' sandboxes alone, as their own process."""
    from werkzeug.serving import run_simple

    from hub.sandbox import create_sandbox_app

    app = create_sandbox_app(public_url=f"http://{host}:{port}")
    click.echo(
        f"Sandboxes of {', '.join(app.extensions['hub.sandbox'].mounted)} "
        f"on http://{host}:{port}/_sandbox/"
    )
    run_simple(host, port, app, threaded=True, use_reloader=False)


@group.command("dev-setup", hidden=True)
@click.option("--agency", default="sunrise", show_default=True)
@click.option("--email", default="admin@sunrise.example", show_default=True)
def dev_setup_command(agency: str, email: str) -> None:
    """Create a development agency, admin and sandbox accounts, once, and print them."""
    if current_app.config["HUB_ENV"] == "production":
        raise click.UsageError("dev-setup is for development only.")

    path = Path(current_app.instance_path) / "dev-credentials.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    if not saved:
        saved = _make_dev_setup(agency, email)
        path.write_text(json.dumps(saved, indent=2) + "\n")
        path.chmod(0o600)

    click.echo("\nDevelopment sign-in (kept in the instance folder):")
    click.echo(f"  {saved['admin']['email']} / {saved['admin']['password']}")
    for connector, credentials in saved.get("sandboxes", {}).items():
        click.echo(f"Sandbox account for {connector}, to paste into the wizard:")
        for key, value in credentials.items():
            click.echo(f"  {key}: {value}")


def _make_dev_setup(slug: str, email: str) -> dict:
    import secrets

    agency = db.session.scalar(sa.select(Agency).filter_by(slug=slug))
    if agency is None:
        agency = Agency(slug=slug, name="Sunrise Home Care", settings={})
        db.session.add(agency)
    password = secrets.token_urlsafe(12)
    user = db.session.scalar(sa.select(User).filter_by(email=email))
    if user is None:
        user = User(email=email)
        db.session.add(user)
    user.password_hash = generate_password_hash(password)
    user.role = Role.ADMIN.value
    user.agency = agency
    db.session.commit()

    sandboxes = {}
    if "hub.sandbox" in current_app.extensions:
        client = current_app.test_client()
        connectors = current_app.extensions["hub.connectors"]
        for name in current_app.extensions["hub.sandbox"].mounted:
            body = {**connectors.info(name).sandbox_account, "name": agency.name}
            answer = client.post(f"/_sandbox/{name}/_control/accounts", json=body)
            if answer.status_code < 300:
                sandboxes[name] = answer.get_json()

    return {"admin": {"email": email, "password": password}, "sandboxes": sandboxes}


@group.command("worker")
def worker_command() -> None:
    """Run the sync worker in the foreground until interrupted."""
    dispatcher = current_app.extensions["hub.dispatcher"]
    click.echo(f"The sync worker {dispatcher.name} is running; Ctrl-C stops it.")
    current_app.extensions["hub.reconciler"].start()
    try:
        dispatcher.run_forever()
    except KeyboardInterrupt:
        click.echo("The sync worker stopped.")


@group.command("replay")
@click.argument("event_id", type=int)
@click.option(
    "--queue", is_flag=True, help="Only queue it for the workers; do not run it here."
)
def replay_command(event_id: int, queue: bool) -> None:
    """Run one event again, whatever became of it before."""
    from hub.sync.replay import requeue

    event = requeue(event_id)
    if event is None:
        raise click.UsageError(f"There is no event {event_id}.")
    if queue:
        click.echo(f"Event {event_id} is queued again.")
        return

    status = current_app.extensions["hub.dispatcher"].process(event_id)
    if status is None:
        click.echo(
            f"Event {event_id} is queued again; it waits for an earlier event of the "
            "same person, and a worker runs it after that one."
        )
        return
    event = db.session.get(type(event), event_id)
    db.session.refresh(event)
    detail = f": {event.last_error}" if event.last_error else ""
    click.echo(f"Event {event_id} ran again: {status} ({event.outcome}){detail}")


@group.command("provision")
@click.argument("agency")
@click.option(
    "--queue", is_flag=True, help="Only queue it for the workers; do not run it here."
)
def provision_command(agency: str, queue: bool) -> None:
    """Provision an agency's connections again (idempotent) and show each step."""
    from hub.models import ProvisioningStep
    from hub.sync import enqueue_provisioning

    row = db.session.scalar(sa.select(Agency).filter_by(slug=agency))
    if row is None:
        raise click.UsageError(f"There is no agency {agency!r}.")
    if not row.connections:
        raise click.ClickException(
            f"Agency {agency!r} has no connections yet; connect them in the setup "
            "wizard first."
        )
    job_id = enqueue_provisioning(row).id
    if queue:
        click.echo(f"Provisioning of {agency} is queued (job {job_id}).")
        return

    status = current_app.extensions["hub.dispatcher"].process_job(job_id)
    if status is None:
        click.echo(
            f"Provisioning of {agency} is queued (job {job_id}); a worker is running "
            "it already."
        )
        return
    db.session.expire_all()
    row = db.session.scalar(sa.select(Agency).filter_by(slug=agency))
    for connection in row.connections:
        steps = db.session.scalars(
            sa.select(ProvisioningStep)
            .filter_by(connection_id=connection.id)
            .order_by(ProvisioningStep.position)
        ).all()
        for step in steps:
            detail = f": {step.detail}" if step.detail else ""
            click.echo(f"{connection.connector} {step.step}: {step.status}{detail}")
    job = db.session.get(ProvisioningJob, job_id)
    error = f": {job.last_error}" if job.last_error else ""
    click.echo(f"Provisioning of {agency}: {status}{error}")
    if status != "done":
        raise SystemExit(1)


@group.command("backfill")
@click.argument("agency")
@click.option("--batch-size", default=100, show_default=True, type=click.IntRange(1))
@click.option("--restart", is_flag=True, help="Start again from the first record.")
def backfill_command(agency: str, batch_size: int, restart: bool) -> None:
    """Bring an agency's existing contacts and deals over to its care system."""
    from hub.errors import ConfigurationError, HubError
    from hub.sync.backfill import backfill

    row = db.session.scalar(sa.select(Agency).filter_by(slug=agency))
    if row is None:
        raise click.UsageError(f"There is no agency {agency!r}.")
    dispatcher = current_app.extensions["hub.dispatcher"]
    with click.progressbar(length=1, label=f"Backfilling {agency}") as bar:

        def show(progress) -> None:
            # Until the last page is read the total is what has been seen so far.
            bar.length = max(progress.total or progress.done + batch_size, 1)
            bar.update(progress.done - bar.pos)

        try:
            done = backfill(
                row,
                current_app.extensions["hub.connectors"],
                dispatcher.drain,
                batch_size=batch_size,
                restart=restart,
                on_progress=show,
            )
        except (ConfigurationError, TimeoutError) as exc:
            raise click.ClickException(str(exc)) from None
        except HubError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(
        f"Backfilled {done.done} of {done.total} record(s) of {agency}: "
        f"{done.created} linked now, {done.skipped} linked before, "
        f"{done.stored} handed to the worker."
    )


@group.command("demo")
@click.option("--contacts", default=25, show_default=True, type=click.IntRange(1))
@click.option(
    "--database",
    help="An empty database (a file or a URL) to keep; a fresh one when left out.",
)
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait.")
def demo_command(contacts: int, database: str | None, timeout: float) -> None:
    """Serve the hub and both sandboxes here, sync a demo agency, compare both sides."""
    from hub import demo
    from hub.errors import ConfigurationError

    try:
        agree = demo.run(contacts, database, click.echo, timeout=timeout)
    except (ConfigurationError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from None
    if not agree:
        raise SystemExit(1)


@group.command("new-connector")
@click.argument("name")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The folder to write carehub-NAME/ into.",
)
@click.option("--label", help="The name people see, such as 'Pipedrive'.")
@click.option(
    "--role", type=click.Choice(["sales", "care"]), default="sales", show_default=True
)
def new_connector_command(
    name: str, output: Path, label: str | None, role: str
) -> None:
    """Write a new connector distribution, carehub-NAME, to start from."""
    from hub.errors import BadRequest
    from hub.scaffold import write_connector

    try:
        target = write_connector(name, output, label=label, role=role)
    except BadRequest as exc:
        raise click.UsageError(exc.message) from None
    click.echo(f"Wrote {target}.")
    click.echo(
        f"Next: pip install -e {target}, then run pytest in it; docs/connectors.md "
        "walks through the hooks."
    )


def init_app(app) -> None:
    """Add the ``hub`` command group to an app."""
    app.cli.add_command(group)
