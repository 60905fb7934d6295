"""Walking the whole setup wizard in Chromium against the sandboxes, then syncing a
contact, rotating the token and finding the audit entries; once by keyboard only."""

from __future__ import annotations

import logging
import re
import time

import requests
from playwright.sync_api import expect

from browser.conftest import PASSWORD
from carehub_hubspot import paths


def sign_in(page, hub_url: str, email: str) -> None:
    page.goto(f"{hub_url}/")
    expect(page).to_have_url(re.compile(r"/signin$"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_the_wizard_then_a_contact_then_a_rotation(
    page, hub_url, sandbox_account, caplog
):
    caplog.set_level(logging.INFO)
    care = sandbox_account("clearcare", "Sunrise Home Care")
    sales = sandbox_account(
        "hubspot", "Sunrise Home Care", tier="professional", operations_hub=True
    )

    sign_in(page, hub_url, "admin@sunrise.example")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.shot("overview")
    page.get_by_role("link", name="Start the integration setup").click()

    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#agree-error")).to_contain_text("Tick the box")
    page.shot("agreement-refused")
    page.get_by_label(re.compile("I allow the hub")).check()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="ClearCare connection")).to_be_visible()
    page.get_by_label("ClearCare client id").fill(care["client_id"])
    page.get_by_label("ClearCare client secret").fill("not-the-secret")
    page.get_by_label("ClearCare agency id").fill(str(care["agency_id"]))
    page.get_by_role("button", name="Connect").click()
    expect(page.locator("p.error")).to_be_visible()
    page.shot("clearcare-refused")
    page.get_by_label("ClearCare client secret").fill(care["client_secret"])
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("heading", name="Connected")).to_be_visible()
    page.shot("clearcare-connected")
    page.get_by_role("link", name="Continue").click()

    expect(
        page.get_by_role("heading", name=re.compile("HubSpot access"))
    ).to_be_visible()
    page.get_by_label("HubSpot access token").fill(sales["access_token"])
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_text(str(sales["portal_id"])).first).to_be_visible()
    page.get_by_role("button", name="Configure HubSpot").click()
    page.shot("configuring")
    expect(page.locator("#continue")).to_be_visible(timeout=30_000)
    page.shot("configured")
    page.locator("#continue").get_by_role("link", name="Continue").click()

    expect(page.get_by_role("heading", name="Webhook configuration")).to_be_visible()
    page.shot("webhooks")
    copy = page.get_by_role("button", name="Copy")
    if copy.count():
        copy.first.click()
        expect(copy.first).to_have_text("Copied")
    page.get_by_role("button", name="Finish").click()

    expect(page.get_by_role("heading", name="Setup complete")).to_be_visible()
    expect(page.get_by_role("heading", name="Finish in HubSpot")).to_be_visible()
    page.shot("setup-complete")
    while page.get_by_role("button", name="Mark as done").count():
        page.get_by_role("button", name="Mark as done").first.click()
    page.get_by_role("link", name="Go to the dashboard").click()
    expect(page.get_by_role("heading", name="Sync health")).to_be_visible()

    auth = {"Authorization": f"Bearer {sales['access_token']}"}
    sandbox = f"{hub_url}/_sandbox/hubspot"
    location = requests.get(
        sandbox
        + paths.path("property", object_type="contacts", name="clearcare_location"),
        headers=auth,
        timeout=10,
    ).json()["options"][0]["value"]
    contact = requests.post(
        sandbox + paths.path("objects", object_type="contacts"),
        headers=auth,
        json={
            "properties": {
                "firstname": "Ada",
                "lastname": "Byron",
                "clearcare_location": location,
            }
        },
        timeout=10,
    )
    assert contact.status_code < 300, contact.text
    created = page.locator("table.events tbody tr", has_text="contact.created")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not created.count():
        time.sleep(0.5)
        page.reload()
    page.shot("dashboard-with-event")
    expect(created).to_contain_text("HubSpot")

    rotated = requests.post(
        f"{hub_url}/_sandbox/hubspot/_control/rotate_token",
        json={"account": str(sales["portal_id"])},
        timeout=10,
    ).json()
    page.get_by_role("link", name="Credentials").click()
    page.get_by_label("New HubSpot access token").fill("pat-na1-not-a-token")
    page.locator("form", has=page.get_by_label("New HubSpot access token")).get_by_role(
        "button", name="Rotate"
    ).click()
    expect(page.locator("#hubspot-new-access_token-error")).to_be_visible()
    page.get_by_label("New HubSpot access token").fill(rotated["access_token"])
    page.locator("form", has=page.get_by_label("New HubSpot access token")).get_by_role(
        "button", name="Rotate"
    ).click()
    audit = page.locator("table.audit")
    expect(audit).to_contain_text("Rotated")
    expect(audit).to_contain_text("…" + rotated["access_token"][-4:])
    expect(audit).to_contain_text("Created")
    expect(audit).to_contain_text("Agreed")
    page.shot("credentials-rotated")
    assert rotated["access_token"] not in page.content()
    secrets = (care["client_secret"], sales["access_token"], rotated["access_token"])
    for record in caplog.records:
        line = record.getMessage()
        assert not any(secret in line for secret in secrets), line


def tab_to(page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element is focused, as a keyboard user would."""
    target = page.locator(selector).first
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {selector}.")


def test_the_wizard_by_keyboard_only(page, hub_url, sandbox_account, chromium):
    care = sandbox_account("clearcare", "Harbor Home Care")
    # Without the automation scope the workflows are left to the admin, so the
    # webhook page shows their URLs with copy buttons.
    scopes = ["crm.objects.contacts.read", "crm.objects.contacts.write"]
    scopes += ["crm.objects.deals.read", "crm.objects.deals.write"]
    scopes += ["crm.schemas.contacts.read", "crm.schemas.contacts.write"]
    scopes += ["crm.schemas.deals.read", "crm.schemas.deals.write"]
    sales = sandbox_account(
        "hubspot",
        "Harbor Home Care",
        tier="professional",
        operations_hub=True,
        scopes=scopes,
    )
    page.goto(f"{hub_url}/")

    tab_to(page, "#email")
    page.keyboard.type("admin@harbor.example")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    tab_to(page, "a.button.primary")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Agreement")).to_be_visible()
    tab_to(page, "#agree")
    page.keyboard.press("Space")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="ClearCare connection")).to_be_visible()
    tab_to(page, "#client_id")
    for value in (care["client_id"], care["client_secret"], str(care["agency_id"])):
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Connected")).to_be_visible()
    page.shot("keyboard-clearcare-connected")
    tab_to(page, "section.ok a.button")
    page.keyboard.press("Enter")

    expect(
        page.get_by_role("heading", name=re.compile("HubSpot access"))
    ).to_be_visible()
    tab_to(page, "#access_token")
    page.keyboard.type(sales["access_token"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Connected")).to_be_visible()
    tab_to(page, "section.ok button")
    page.keyboard.press("Enter")
    expect(page.locator("#continue")).to_be_visible(timeout=30_000)
    page.shot("keyboard-configured")
    tab_to(page, "#continue a")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Webhook configuration")).to_be_visible()
    expect(page.locator(".status-manual").first).to_be_visible()
    url = page.locator("#url-deal_workflow-1")
    expect(url).to_have_value(re.compile(r"/hooks/hubspot/"))
    tab_to(page, 'button[data-copy="url-deal_workflow-1"]')
    page.keyboard.press("Enter")
    expect(page.locator('button[data-copy="url-deal_workflow-1"]')).to_have_text(
        "Copied"
    )
    page.shot("keyboard-webhooks")
    tab_to(page, "button.primary")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Setup complete")).to_be_visible()
    expect(page.locator(".checklist")).to_contain_text("Deal workflow")
    page.shot("keyboard-setup-complete")
    tab_to(page, ".checklist button")
    page.keyboard.press("Enter")
    expect(page.locator(".checklist li.done").first).to_be_visible()

    check_without_javascript(chromium, hub_url)


def check_without_javascript(chromium, hub_url: str) -> None:
    """Check that statuses and webhook URLs are on the pages with JavaScript off;
    only the copy button needs it."""
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, hub_url, "admin@harbor.example")
        page.goto(f"{hub_url}/agencies/harbor/setup/connect/hubspot")
        expect(page.locator("tr[data-step='hubspot:pipeline'] .status")).to_have_text(
            "done"
        )
        page.goto(f"{hub_url}/agencies/harbor/setup/webhooks")
        expect(page.locator("#url-deal_workflow-1")).to_have_value(
            re.compile(r"/hooks/hubspot/")
        )
        expect(page.locator('button[data-copy="url-deal_workflow-1"]')).to_be_hidden()
    finally:
        context.close()
