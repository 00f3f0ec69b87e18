#!/usr/bin/python3
"""A real WebSocket server and client (Debian's python3-websockets) for the tunnel tests.

  ws_peer.py server
      Serves on 127.0.0.1, a free port, printed as "listening PORT". Paths:
        /echo   sends back every message
        /push   sends "push-1".."push-3" at once, unasked, then echoes
      The server answers the handshake itself; lbproxy only tunnels.

  ws_peer.py h2client URL [--ca FILE] [--big BYTES]
      The same session from an HTTP/2 client (python3-h2 for HTTP/2, python3-wsproto for the
      WebSocket frames): extended CONNECT (RFC 8441) over h2c with prior knowledge (http://)
      or TLS with ALPN h2 (https://); also prints "settings_connect_protocol" and "status".

  ws_peer.py client URL [--ca FILE] [--idle SECONDS] [--reload ADMIN_URL] [--big BYTES]
      Opens URL (ws:// or wss://, verified against FILE) and runs the session the test asks
      for, printing one JSON object with what it saw: {"ok": true, ...} or {"ok": false,
      "error": "..."}. Every step has a timeout: the client never hangs a test.
"""
import asyncio
import json
import os
import ssl
import sys
import urllib.request

import websockets

STEP_TIMEOUT = 20


async def serve():
    async def handler(ws, path):
        if path == "/push":
            for i in range(1, 4):
                await ws.send(f"push-{i}")
        async for message in ws:
            await ws.send(message)

    # max_size: a 1 MiB message (and more) must pass whole.
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening {port}", flush=True)
        await asyncio.Future()


async def step(awaitable):
    return await asyncio.wait_for(awaitable, STEP_TIMEOUT)


async def client(url, ca, idle, reload_url, big):
    result = {"ok": False}
    context = None
    if url.startswith("wss://"):
        context = ssl.create_default_context(cafile=ca)
    try:
        async with websockets.connect(url, ssl=context, max_size=None, open_timeout=STEP_TIMEOUT,
                                      ping_interval=None, compression=None,
                                      server_hostname="a.test" if context else None) as ws:
            result["status"] = 101
            if url.endswith("/push"):
                result["pushed"] = [await step(ws.recv()) for _ in range(3)]
            await ws.send("hello")
            result["echo"] = await step(ws.recv())
            if big:
                payload = os.urandom(big)
                await ws.send(payload)
                back = await step(ws.recv())
                result["big_ok"] = back == payload
            if idle:
                # Silence longer than the route's request timeout: a tunnel has its own.
                await asyncio.sleep(idle)
                await ws.send("after-idle")
                result["after_idle"] = await step(ws.recv())
            if reload_url:
                request = urllib.request.Request(reload_url + "/v1/config/reload", method="POST")
                with urllib.request.urlopen(request, timeout=STEP_TIMEOUT) as answer:
                    result["reload_status"] = answer.status
                await ws.send("after-reload")
                result["after_reload"] = await step(ws.recv())
            result["ok"] = True
    except websockets.exceptions.InvalidStatusCode as e:
        result["status"] = e.status_code
        result["error"] = "handshake refused"
    except Exception as e:  # the test prints what went wrong
        result["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(result), flush=True)


def h2client(url, ca, big):
    import socket
    import time
    import urllib.parse

    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import BytesMessage, CloseConnection, TextMessage
    from wsproto.frame_protocol import CloseReason

    result = {"ok": False}
    parts = urllib.parse.urlsplit(url)
    deadline = time.monotonic() + STEP_TIMEOUT
    try:
        sock = socket.create_connection((parts.hostname, parts.port), timeout=STEP_TIMEOUT)
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=ca)
            context.set_alpn_protocols(["h2"])
            sock = context.wrap_socket(sock, server_hostname="a.test")
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        ws = Connection(ConnectionType.CLIENT)
        state = {"settings": False, "status": None, "ended": False, "messages": [],
                 "partial": None, "read": 0}
        stream_id = None

        def pump(until):
            while not until():
                if time.monotonic() > deadline:
                    raise TimeoutError("no answer in time")
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("connection closed")
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RemoteSettingsChanged):
                        code = h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL
                        if code in event.changed_settings:
                            result["settings_connect_protocol"] = \
                                event.changed_settings[code].new_value
                        state["settings"] = True
                    elif isinstance(event, h2.events.ResponseReceived):
                        state["status"] = int(dict(event.headers)[b":status"])
                    elif isinstance(event, h2.events.DataReceived):
                        conn.acknowledge_received_data(event.flow_controlled_length,
                                                       event.stream_id)
                        if not event.data or state.get("closed"):
                            continue  # END_STREAM's empty DATA, or after the closing handshake
                        ws.receive_data(event.data)
                        for ws_event in ws.events():
                            if isinstance(ws_event, (TextMessage, BytesMessage)):
                                if state["partial"] is None:
                                    state["partial"] = ws_event.data
                                else:
                                    state["partial"] += ws_event.data
                                if ws_event.message_finished:
                                    state["messages"].append(state["partial"])
                                    state["partial"] = None
                            elif isinstance(ws_event, CloseConnection):
                                state["closed"] = True
                    elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                        state["ended"] = True
                sock.sendall(conn.data_to_send())

        def send(payload):
            data = ws.send(TextMessage(data=payload) if isinstance(payload, str)
                           else BytesMessage(data=payload))
            while data:
                window = min(conn.local_flow_control_window(stream_id),
                             conn.max_outbound_frame_size)
                if window <= 0:
                    pump(lambda: conn.local_flow_control_window(stream_id) > 0)
                    continue
                conn.send_data(stream_id, data[:window])
                data = data[window:]
                sock.sendall(conn.data_to_send())

        def receive():
            # Messages may have come with an earlier read: take them in order.
            pump(lambda: len(state["messages"]) > state["read"])
            state["read"] += 1
            return state["messages"][state["read"] - 1]

        pump(lambda: state["settings"])
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(stream_id, [
            (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", parts.scheme),
            (":path", parts.path), (":authority", parts.netloc),
            ("sec-websocket-version", "13")])
        sock.sendall(conn.data_to_send())
        pump(lambda: state["status"] is not None or state["ended"])
        result["status"] = state["status"]
        if state["status"] != 200:
            raise RuntimeError("extended CONNECT refused")
        if parts.path.endswith("/push"):
            result["pushed"] = [receive() for _ in range(3)]
        send("hello")
        result["echo"] = receive()
        if big:
            payload = os.urandom(big)
            send(payload)
            result["big_ok"] = receive() == payload
        # The closing handshake, then the stream ends both ways.
        data = ws.send(CloseConnection(code=CloseReason.NORMAL_CLOSURE))
        conn.send_data(stream_id, data, end_stream=True)
        sock.sendall(conn.data_to_send())
        pump(lambda: state["ended"])
        result["ok"] = True
    except Exception as e:  # the test prints what went wrong
        result["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(result), flush=True)


def main():
    if sys.argv[1] == "server":
        asyncio.run(serve())
        return
    if sys.argv[1] == "h2client":
        args = sys.argv[2:]
        opts = dict(zip(args[1::2], args[2::2]))
        h2client(args[0], opts.get("--ca"), int(opts.get("--big", 0)))
        return
    args = sys.argv[2:]
    url, opts = args[0], dict(zip(args[1::2], args[2::2]))
    asyncio.run(client(url, opts.get("--ca"), float(opts.get("--idle", 0)), opts.get("--reload"),
                       int(opts.get("--big", 0))))


if __name__ == "__main__":
    main()
