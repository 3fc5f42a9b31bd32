"""The Socket.IO side of the gateway: server, handshake, event handlers."""
