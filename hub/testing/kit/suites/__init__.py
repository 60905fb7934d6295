"""The conformance suites, one mixin class each, collected by ``ConnectorKit``."""
