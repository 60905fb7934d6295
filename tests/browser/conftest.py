"""Fixtures for the browser tests: the hub with its sandboxes on a loopback port,
agencies with admins, and headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import requests
from werkzeug.security import generate_password_hash

from hub import create_app
from hub.extensions import db
from hub.models import Agency, User
from hub.testing.server import serve, test_config

PASSWORD = "browser walk password"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Where screenshots go; the folder is ignored by git.
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"Chromium is not at {CHROMIUM}; install it with apt-get install chromium.",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory):
    """Serve the hub with the sandboxes and its worker; yield its URL."""
    tmp = tmp_path_factory.mktemp("hub")

    def make_app(url: str):
        app = create_app(
            test_config(
                tmp,
                HUB_PUBLIC_URL=url,
                HUB_SANDBOX=True,
                HUB_LOAD_ENTRY_POINTS=True,
                HUB_WORKER=True,
                HUB_WORKER_POLL_SECONDS=1,
                TESTING=False,
            )
        )
        with app.app_context():
            db.create_all()
            hashed = generate_password_hash(PASSWORD)
            for slug in ("sunrise", "harbor"):
                agency = Agency(
                    slug=slug, name=f"{slug.title()} Home Care", settings={}
                )
                db.session.add(agency)
                db.session.add(
                    User(
                        email=f"admin@{slug}.example",
                        password_hash=hashed,
                        agency=agency,
                    )
                )
            db.session.commit()
        return app

    with serve(make_app) as app:
        yield app.config["HUB_SERVED_URL"]
        app.extensions["hub.dispatcher"].stop()


@pytest.fixture
def sandbox_account(hub_url):
    """Return a factory that opens an account in a connector's sandbox."""

    def make(connector: str, name: str, **extra) -> dict:
        answer = requests.post(
            f"{hub_url}/_sandbox/{connector}/_control/accounts",
            json={"name": name, **extra},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()

    return make


@pytest.fixture(scope="module")
def chromium():
    """Return a headless Chromium, closed after the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request):
    """Return a fresh browser page; screenshots go to a folder named after the test."""
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    folder = OUTPUT / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    count = [0]

    def shot(name: str) -> None:
        count[0] += 1
        page.screenshot(path=str(folder / f"{count[0]:02d}-{name}.png"), full_page=True)

    page.shot = shot
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback():
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
