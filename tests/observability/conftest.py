from tests.gateway.conftest import stack, user

__all__ = ["stack", "user"]  # the embedded default, shared with the gateway tests
