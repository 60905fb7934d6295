"""The HubSpot connector for carehub, and a sandbox of HubSpot's API."""
