"""What tests share: the sandbox control client and the conformance kit
(:mod:`hub.testing.kit`)."""

from hub.testing.control import SandboxControl

__all__ = ["SandboxControl"]
