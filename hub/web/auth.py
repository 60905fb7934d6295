"""Signing in and out, sessions that expire, and who may see which agency."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import time
from datetime import timedelta

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.security import check_password_hash, generate_password_hash

from hub.errors import NotFound
from hub.extensions import db
from hub.models import Agency, Role, SignInFailure, User, utcnow

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

#: Wrong passwords in a row before each further try has to wait.
FREE_FAILURES = 3
#: The longest wait between tries, however many have failed.
MAX_WAIT = timedelta(minutes=15)
_MISSING = object()


#: How long a record of wrong sign-ins is kept after the last one.
FORGET_AFTER = timedelta(days=1)


def email_key(email: str) -> str:
    """Return the keyed hash an email's wrong sign-ins are counted under."""
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, email.encode(), hashlib.sha256).hexdigest()


def wait_before_next_try(failure: SignInFailure | None) -> timedelta:
    """Return how long someone must still wait before trying an email again."""
    if failure is None:
        return timedelta(0)
    extra = failure.failures - FREE_FAILURES
    if extra < 0:
        return timedelta(0)
    wait = min(timedelta(seconds=2 ** min(extra, 16)), MAX_WAIT)

    return max(timedelta(0), failure.last_failed_at + wait - utcnow())


def count_failure(failure: SignInFailure | None, key: str) -> SignInFailure:
    """Count one more wrong sign-in for an email, forgetting old records."""
    now = utcnow()
    db.session.execute(
        sa.delete(SignInFailure).where(
            SignInFailure.last_failed_at < now - FORGET_AFTER
        )
    )
    if failure is None or failure.last_failed_at < now - FORGET_AFTER:
        failure = db.session.merge(SignInFailure(email_hash=key, failures=0))
    failure.failures += 1
    failure.last_failed_at = now
    db.session.commit()

    return failure


def _session_stamp(user: User) -> str:
    """Return a value that changes when the password does, ending older sessions."""
    return user.password_hash[-12:]


def current_user() -> User | None:
    """Return the signed-in user, or None when no live session exists."""
    # Kept on the request rather than on ``g``: an app context can outlive one
    # request, as under pytest-flask, and must not carry the user to the next.
    cached = request.environ.get("hub.user", _MISSING)
    if cached is not _MISSING:
        return cached

    request.environ["hub.user"] = None
    user_id = session.get("user_id")
    if user_id is None:
        return None
    limit = current_app.config["HUB_SESSION_MINUTES"] * 60
    if time.time() - session.get("seen", 0) > limit:
        session.clear()
        return None
    user = db.session.get(User, user_id)
    if user is None or session.get("stamp") != _session_stamp(user):
        session.clear()
        return None
    session["seen"] = int(time.time())
    request.environ["hub.user"] = user

    return user


def signed_in(view):
    """Return a view that sends people without a session to the sign-in page."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("auth.sign_in", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped


def operator_only(view):
    """Return a view that only operators reach; others get 404."""

    @functools.wraps(view)
    @signed_in
    def wrapped(*args, **kwargs):
        if current_user().role != Role.OPERATOR.value:
            raise NotFound("There is no such page.")
        return view(*args, **kwargs)

    return wrapped


def agency_or_404(slug: str) -> Agency:
    """Return the agency with the slug when the signed-in user may see it.

    An agency admin asking for another agency gets the same answer as for an agency
    that does not exist.

    :raises NotFound: otherwise.
    """
    user = current_user()
    agency = db.session.scalar(sa.select(Agency).filter_by(slug=slug))
    if agency is None or user is None:
        raise NotFound(f"There is no agency {slug!r} you can see.")
    if user.role != Role.OPERATOR.value and user.agency_id != agency.id:
        raise NotFound(f"There is no agency {slug!r} you can see.")

    return agency


def home_url(user: User) -> str:
    """Return where a user lands after signing in."""
    if user.role == Role.OPERATOR.value:
        return url_for("admin.agencies")
    if user.agency is None:
        return url_for("auth.sign_in")

    return url_for("admin.home", slug=user.agency.slug)


@functools.cache
def _unknown_user_hash() -> str:
    """Return a hash to check when the email is unknown, so both answers take as
    long."""
    return generate_password_hash("not a password of anyone's")


def safe_next(target: str | None) -> str | None:
    """Return a target to go back to when it is a page of the hub, else None."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@bp.get("/")
def index():
    """Send people to their home page, or to sign in."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.sign_in"))

    return redirect(home_url(user))


@bp.route("/signin", methods=["GET", "POST"])
def sign_in():
    """Show the sign-in form, and sign in with an email and a password."""
    if request.method == "GET":
        return render_template("auth/sign_in.html", email="", error=None)

    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    key = email_key(email)
    failure = db.session.get(SignInFailure, key)
    # Every email, known or not, is slowed down alike, so a refusal never tells
    # whether someone has the email.
    wait = wait_before_next_try(failure)
    if wait:
        seconds = int(wait.total_seconds()) + 1
        log.info("Refused a sign-in: %s failures in a row.", failure.failures)
        return _refuse(
            email,
            f"Too many wrong sign-ins in a row. Wait {seconds} seconds, then try "
            "again; an operator can reset the password.",
            status=429,
        )

    user = db.session.scalar(sa.select(User).filter_by(email=email)) if email else None
    if user is None:
        check_password_hash(_unknown_user_hash(), password)
    if user is None or not check_password_hash(user.password_hash, password):
        failure = count_failure(failure, key)
        log.info(
            "Wrong sign-in for %s (%s in a row).",
            f"user {user.id}" if user else "an unknown email",
            failure.failures,
        )
        return _refuse(email, "The email or the password is wrong. Try again.")

    if failure is not None:
        db.session.delete(failure)
        db.session.commit()
    session.clear()
    session.permanent = True
    session.update(user_id=user.id, stamp=_session_stamp(user), seen=int(time.time()))
    log.info("User %s signed in.", user.id)

    return redirect(safe_next(request.args.get("next")) or home_url(user))


def _refuse(email: str, message: str, status: int = 401):
    return render_template("auth/sign_in.html", email=email, error=message), status


@bp.post("/signout")
def sign_out():
    """End the session and go back to the sign-in page."""
    session.clear()
    return redirect(url_for("auth.sign_in"))


@bp.app_context_processor
def _user_in_templates():
    return {"current_user": current_user()}
