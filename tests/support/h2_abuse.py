#!/usr/bin/env python3
"""HTTP/2 abuse client for the integration tests (cleartext h2c, prior knowledge).

Writes raw frames (no HTTP/2 library, so nothing smooths the attack out), then reads until the
server closes, and prints one JSON line:
  {"mode": ..., "goaway": <error code or null>, "closed": bool, "streams_answered": n}

Modes:
  rapid_reset   HEADERS then RST_STREAM(CANCEL) for 2000 streams, 100 pairs per write (CVE-2023-44487)
  continuation  HEADERS without END_HEADERS, then CONTINUATION frames without end (2024 floods)
  settings      20000 SETTINGS frames
  ping          20000 PING frames
  hpack_bomb    one 4000-byte header value put in the HPACK dynamic table, then 200 streams whose
                header blocks reference it 4000 times each (1 byte -> 4000 bytes decoded)
  crlf          one request whose header value carries CR LF and a second field (request
                splitting if it were copied into HTTP/1.1 as is)
  lower_stream_id  stream 5, then a new stream 3 (RFC 9113 5.1.1: PROTOCOL_ERROR)
  bad_preface   "INVALID CONNECTION PREFACE" instead of the preface, on a port that also
                speaks HTTP/1.1 (RFC 9113 3.4: PROTOCOL_ERROR, not an HTTP/1.1 answer)
  bad_path      a :path with '"' and '<' in it, which no HTTP/1.1 request line may carry
Usage: h2_abuse.py PORT MODE [TIMEOUT_SECONDS]
"""
import json
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, CONTINUATION = 0, 1, 3, 4, 6, 7, 9
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(ftype, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream_id) + payload


def hpack_int(value, prefix_bits, first_byte_flags=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | limit]
    value -= limit
    while value >= 128:
        out.append((value % 128) | 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_str(s):
    return hpack_int(len(s), 7) + s


# :method GET, :scheme http, :path /, and :authority as a literal without indexing.
BASIC_BLOCK = b"\x82\x86\x84" + b"\x01" + hpack_str(b"abuse.test")


def run(port, mode, timeout):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if mode == "bad_preface":
        sock.sendall(b"INVALID CONNECTION PREFACE\r\n\r\n")
    else:
        sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
    try:
        if mode == "bad_preface":
            pass
        elif mode == "lower_stream_id":
            sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 5, BASIC_BLOCK))
            sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 3, BASIC_BLOCK))
        elif mode == "bad_path":
            # :method GET, :scheme http, :path (literal, indexed name 4) /a"<b, :authority.
            block = b"\x82\x86" + b"\x04" + hpack_str(b'/a"<b') + b"\x01" + hpack_str(b"abuse.test")
            sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
        elif mode == "rapid_reset":
            sid = 1
            for _ in range(20):
                batch = b""
                for _ in range(100):
                    batch += frame(HEADERS, END_HEADERS | END_STREAM, sid, BASIC_BLOCK)
                    batch += frame(RST_STREAM, 0, sid, struct.pack(">I", 8))  # CANCEL
                    sid += 2
                sock.sendall(batch)
        elif mode == "continuation":
            sock.sendall(frame(HEADERS, 0, 1, BASIC_BLOCK))
            chunk = frame(CONTINUATION, 0, 1, b"\x40" + hpack_str(b"x-a") + hpack_str(b"b" * 100))
            for _ in range(2000):
                sock.sendall(chunk * 10)
        elif mode == "settings":
            sock.sendall(frame(SETTINGS, 0, 0) * 20000)
        elif mode == "ping":
            sock.sendall(frame(PING, 0, 0, b"12345678") * 20000)
        elif mode == "hpack_bomb":
            # Literal with incremental indexing, new name: enters the dynamic table at 62.
            seed = b"\x40" + hpack_str(b"x-bomb") + hpack_str(b"z" * 4000)
            bomb = b"\xbe" * 4000  # indexed field 62, 4000 times
            sid = 1
            for i in range(200):
                block = BASIC_BLOCK + (seed if i == 0 else b"") + bomb
                sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, sid, block))
                sid += 2
        elif mode == "crlf":
            smuggle = b"\x00" + hpack_str(b"x-a") + hpack_str(b"b\r\nx-injected: 1")
            sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, BASIC_BLOCK + smuggle))
        else:
            raise SystemExit("unknown mode " + mode)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server closed while we were still sending: that is the expected outcome

    goaway, closed, answered, statuses, http1 = None, False, 0, [], False
    buf = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            sock.settimeout(max(0.1, deadline - time.time()))
            data = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not data:
            closed = True
            break
        buf += data
        if buf.startswith(b"HTTP/1."):
            http1 = True  # an HTTP/1.1 answer to an HTTP/2 client: nothing more to parse
            buf = b""
            continue
        while len(buf) >= 9:
            length = int.from_bytes(buf[0:3], "big")
            if len(buf) < 9 + length:
                break
            ftype, payload = buf[3], buf[9 : 9 + length]
            if ftype == GOAWAY and len(payload) >= 8:
                goaway = int.from_bytes(payload[4:8], "big")
            if ftype == HEADERS:
                answered += 1
                # A response's first field: ":status" from the static table (0x88 = 200 ...).
                if payload[:1] and payload[0] & 0x80:
                    statuses.append({0x88: 200, 0x89: 204, 0x8a: 206, 0x8b: 304, 0x8c: 400,
                                     0x8d: 404, 0x8e: 500}.get(payload[0], 0))
                elif payload[:1] == b"\x08" or payload[:1] == b"\x48":
                    statuses.append(int(payload[2:5]))
            buf = buf[9 + length :]
    print(json.dumps({"mode": mode, "goaway": goaway, "closed": closed, "streams_answered": answered,
                      "statuses": statuses, "http1_answer": http1}))


if __name__ == "__main__":
    run(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 10.0)
