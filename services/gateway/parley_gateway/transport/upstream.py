"""The upstream code Parley's transport overrides or relies on, with a digest of its source
as pinned (pyproject.toml: ``~=``).

Each name here is either a method one of the modules of this package replaces (its fix or
speed-up must still fit what upstream does around it) or upstream code those replacements
call or assume the shape of. ``tests/gateway/test_upstream.py`` fails when the installed
source of any of them differs from its digest: an upgrade must never drop a fix silently.
After an upgrade, read what changed in each name it lists, bring the override along, then
update the digests (the test prints the new ones).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import textwrap

# module -> qualname -> sha256 of its source (inspect.getsource, dedented), first 32 digits.
UPSTREAM: dict[str, dict[str, str]] = {
    # python-engineio: the socket (engine_socket.LeanSocket)
    "engineio.async_socket": {
        "AsyncSocket.poll": "01a7f5df1937d9265cea38333bd492c9",
        "AsyncSocket.receive": "16b0b2f67927768cd1fc0e99e35ae0f4",
        "AsyncSocket.check_ping_timeout": "b752d61daa2681da1997e8907912287c",
        "AsyncSocket.send": "e7de91d345dff4fe14810ce3cdbadb25",
        "AsyncSocket.handle_get_request": "39d7be2a28cd3bdd9a164c5481d1d52d",
        "AsyncSocket.handle_post_request": "4c56de0a681290f33fe27671d55bbf3f",
        "AsyncSocket.close": "9145d6fd2870d9607a78e317d8463072",
        "AsyncSocket.schedule_ping": "ce99733916e924e7a09a372493be3997",
        "AsyncSocket._send_ping": "af7d301862db9af7aa893f63382b60b6",
        "AsyncSocket._upgrade_websocket": "87601500a120e564d89845d741c558cc",
        "AsyncSocket._websocket_handler": "3548a4051e6f43dff4381e0060c3d8e7",
    },
    "engineio.base_socket": {
        "BaseSocket.__init__": "ab7a0a99cf0f6a754e6fd3b28d6857b5",
    },
    # python-engineio: the server (engine_server.LeanEngineServer, sio/gate.py)
    "engineio.async_server": {
        "AsyncServer.handle_request": "911b69db6dcb766309d02ebd76809a12",
        "AsyncServer.disconnect": "de8c2fec6b3ac4022a2a822d9fa4d0e7",
        "AsyncServer._handle_connect": "57f46d81546219173e4ba78862c6e685",
        "AsyncServer._trigger_event": "727223d7a3f3f60a66fa126eba4df870",
        "AsyncServer._service_task": "db7d5f5924c529de8fbf38cbc573e6a6",
        # replaced by light_queue.LightQueue: its users are BaseSocket.__init__, AsyncSocket.close
        "AsyncServer.create_queue": "c7536859974a6f2042441cd36cfe6c33",
    },
    "engineio.base_server": {
        "BaseServer._cors_allowed_origins": "d6fd16fd3c92a19fbc9e2dc25364e24b",
        "BaseServer._cors_headers": "2d214a6ba0f0b05c95d5c245b996cb51",
    },
    "engineio.async_drivers.asgi": {
        "translate_request": "39e74733f1fe46aa20e9ba2b651834a1",
    },
    # python-socketio (socketio_server.ParleyServer, local_emit)
    "socketio.async_server": {
        "AsyncServer._handle_eio_connect": "4c462bbca904efb10e0b59d17a17b697",
        "AsyncServer._handle_eio_message": "38a7a6c5de2dd6e942e5c4f2488accad",
        "AsyncServer._handle_eio_disconnect": "97ab2ca891e5ec15c725f5810df0b8e3",
        "AsyncServer._handle_disconnect": "4eef8aa4e7ae66e81d0f73be74549ff8",
        "AsyncServer._handle_event": "f6cd1d71932878ee610a0f1b1b0125e7",
        "AsyncServer._handle_event_internal": "325261cdeeb938833342a32f30affabf",
        "AsyncServer._send_packet": "d8c028ab837264659f4566dc97b5fe4a",
        "AsyncServer._trigger_event": "46eb7c30ae954dcc0e3829dc844b5e81",
    },
    "socketio.base_server": {
        "BaseServer._engineio_server_class": "da52af32990747c7a72dea9348ddfded",
        "BaseServer._get_event_handler": "6a4ef0e7299a6aa644a8f49319fe42a2",
        "BaseServer._get_namespace_handler": "6bfa742224a068279944aa6fee978d6b",
    },
    "socketio.base_manager": {
        "BaseManager.get_participants": "6dbb771adb36aed52f4e32d2464c7e30",
    },
    "socketio.packet": {
        "Packet.encode": "a9acce804e6c532d68439a2a492b2bac",
    },
    # uvicorn and websockets (ws_protocol.WebSocketProtocol; parley_common/serve.py)
    "uvicorn.protocols.websockets.websockets_sansio_impl": {
        "WebSocketsSansIOProtocol.data_received": "0d468d6299c957bbd613b286090b4b12",
        "WebSocketsSansIOProtocol.handle_connect": "fa2597da918de20a9fa756082386272a",
        "WebSocketsSansIOProtocol.send": "560baa5c639d3a4cf0f4567501ee8777",
        "WebSocketsSansIOProtocol.pause_writing": "706981ee7dc59872c4f0289dca855e60",
        # write_frame's coalescing: self.loop and the state it checks, and the close answered
        # from data_received (pending frames are flushed before it).
        "WebSocketsSansIOProtocol.__init__": "cdad078596a7c53ac85817cf53414419",
        "WebSocketsSansIOProtocol.handle_close": "6d4f59e51a4ea41de12f139e0353226b",
        # the receive queue is a light_queue.LightQueue (put_nowait, get, empty)
        "WebSocketsSansIOProtocol.receive": "150d41c7f477225e9ae8d9885dd8d2bb",
    },
    "uvicorn.server": {
        "Server._serve": "808a98031a4105f5062fa5a7da5e8519",
        "Server.startup": "61dd959a73fc3de8c35eeac00a2938ea",
        "Server.shutdown": "9f8a90ed456dcfee58dcce8e45f27b86",
    },
    "websockets.frames": {
        "Frame.serialize": "fa10dc1e86c07ab511a6047244d110c9",
    },
}


def digest(module_name: str, qualname: str) -> str:
    """The digest of the installed source of ``qualname`` in ``module_name``."""
    target: object = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    source = textwrap.dedent(inspect.getsource(target))  # type: ignore[arg-type]
    return hashlib.sha256(source.encode()).hexdigest()[:32]  # 128 bits: enough to see a change


def changed() -> dict[str, str]:
    """``module:qualname`` of what differs from its digest, with its digest now."""
    return {
        f"{module}:{qualname}": now
        for module, names in UPSTREAM.items()
        for qualname, expected in names.items()
        if (now := digest(module, qualname)) != expected
    }
