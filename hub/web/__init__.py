"""The hub's blueprints: webhook ingress, health, and the error pages."""
