"""The words of the setup guide the wizard shows, kept apart from the code paths.

Provisioning steps and webhook purposes are named by the connectors; these tables
only say how to present the ones the guide describes. A step or purpose missing here
is shown with the connector's own detail.
"""

from __future__ import annotations

#: Provisioning steps as people know them.
STEP_TITLES = {
    "pipeline": "Sales pipeline with the 12 prospect statuses as deal stages",
    "properties": 'Contact properties "ClearCare Prospect Id" and "ClearCare location"',
    "contact_workflows": "Contact workflows (contact created, contact fields changed)",
    "deal_workflow": "Deal workflow (deal stage changed)",
    "subscriptions": "Webhook subscriptions",
    "locations": "Locations",
}

#: The webhook purposes each workflow step calls.
STEP_PURPOSES = {
    "contact_workflows": ("contact.created", "contact.changed"),
    "deal_workflow": ("deal.stage_changed",),
    "subscriptions": ("contact.created", "contact.changed", "deal.stage_changed"),
}

#: Webhook purposes as people know them.
PURPOSE_TITLES = {
    "contact.created": "Contact created",
    "contact.changed": "Contact fields changed",
    "deal.stage_changed": "Deal stage changed",
}

#: What to do by hand when a step is manual, as the guide says it.
MANUAL_STEPS = {
    "deal_workflow": [
        "In HubSpot, go to Automation › Workflows and click Create workflow.",
        "Choose Start from scratch, then Deal-based. Name it, then click Next.",
        "Click Set enrollment triggers: Deal › Deal stage › is any of, filter by "
        '"ClearCare", tick every ClearCare stage except New Lead, and Apply filter.',
        "Open Re-enrollment, turn on “Allow deals that meet the trigger criteria to "
        "re-enroll”, and Save.",
        "Click + to add an action, choose Send a webhook (Trigger webhook), method "
        "POST, paste the webhook URL above, and Save.",
        "Click Review, choose “Yes, enroll existing deals which meet the trigger "
        "criteria as of now”, then Turn on.",
    ],
    "contact_workflows": [
        "In HubSpot, go to Automation › Workflows and create a contact-based workflow "
        "for each URL above (contact created; contact fields changed).",
        "Add the action Send a webhook, method POST, paste the URL, Save, Review and "
        "Turn on.",
    ],
}

#: Why a step can be unavailable, and what the hub does instead.
UNAVAILABLE = (
    "This HubSpot account cannot run workflows that send webhooks, so these changes "
    "are synced by polling: the hub asks HubSpot for changes every few minutes. "
    "Nothing is lost; changes only arrive a little later."
)

#: The checklist of the Setup complete page, after the manual workflow steps.
CHECKLIST = {
    "form_properties": (
        'Add "ClearCare location" and "ClearCare Prospect Id" to the contact-creation '
        "form: Settings › Contacts & Companies › Contacts › “Set the properties all "
        "users in your account see when creating contacts” › Manage; search for "
        "ClearCare, tick both and Save."
    ),
    "required_fields": (
        "Make the fields your ClearCare requires required on the same form: tick "
        "Required beside each of them ({fields}) and Save."
    ),
}

#: Prospect fields as HubSpot labels them.
FIELD_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone number",
    "mobile_phone": "Mobile phone number",
    "street": "Street address",
    "city": "City",
    "state": "State/Region",
    "postal_code": "Postal code",
    "location": "ClearCare location",
}
