"""Everything of the gateway that replaces or reaches into the internals of python-engineio,
python-socketio, uvicorn or websockets, in one place.

- :mod:`.engine_socket`: Engine.IO sockets without a task per packet, with bounded output.
- :mod:`.engine_server`: the Engine.IO server making them, its ping sweep, its disconnects.
- :mod:`.socketio_server`: python-socketio's server without binary packets, with a connect
  deadline, bounded events in flight and per-address counts.
- :mod:`.local_emit`: room events queued straight onto this gateway's sockets.
- :mod:`.light_queue`: the sockets' send and receive queues, a third of asyncio.Queue's size.
- :mod:`.ws_protocol`: uvicorn's WebSocket protocol answering bad handshakes, and writing
  ready-made frames (one transport write per connection per loop turn).

Those four packages are pinned (``~=``, services/gateway/pyproject.toml), and every upstream
name these modules override or rely on is listed, with a digest of its source, in
:data:`.upstream.UPSTREAM`; ``tests/gateway/test_upstream.py`` fails when any of them changes.
"""
