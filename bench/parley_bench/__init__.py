"""Parley's load generator: Socket.IO v5 over WebSocket, straight on aiohttp, one JSON line per run.

    .venv/bin/python -m bench.parley_bench --url http://127.0.0.1:8000 --secret "$JWT_SECRET" \
        --pid gateway:1234,messages:1235 --scenario chat --conversations 200 --members 2 --rate 200,1000

It measures any server that speaks docs/PROTOCOL.md, with the scenarios and field names of
``shared/bench/loadgen.mjs`` (connect, chat, fanout); ``bench/run_bench.py`` drives it for
``make bench``. Modules: ``options`` (flags), ``sio`` (the wire client), ``stats`` and ``procstat``
(figures), ``agent`` and ``pool`` (the sockets, in this process or spread over worker processes),
``connect``/``chat``/``fanout`` (the scenarios), ``cli`` (the entry point).
"""
