"""What tests share: the sandbox control client and, later, the conformance kit."""

from hub.testing.control import SandboxControl

__all__ = ["SandboxControl"]
