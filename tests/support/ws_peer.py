#!/usr/bin/python3
"""A real WebSocket server and client (Debian's python3-websockets) for the tunnel tests.

  ws_peer.py server
      Serves on 127.0.0.1, a free port, printed as "listening PORT". Paths:
        /echo   sends back every message
        /push   sends "push-1".."push-3" at once, unasked, then echoes
      The server answers the handshake itself; lbproxy only tunnels.

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


def main():
    if sys.argv[1] == "server":
        asyncio.run(serve())
        return
    args = sys.argv[2:]
    url, opts = args[0], dict(zip(args[1::2], args[2::2]))
    asyncio.run(client(url, opts.get("--ca"), float(opts.get("--idle", 0)), opts.get("--reload"),
                       int(opts.get("--big", 0))))


if __name__ == "__main__":
    main()
