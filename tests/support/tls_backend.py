#!/usr/bin/env python3
"""A TLS HTTP/1.1 backend for the upstream TLS tests, on Python's ssl module (OpenSSL, but
none of lbproxy's code): it serves its certificate, optionally requires a client certificate
signed by a CA, and answers every GET with what it saw of the TLS session as JSON:

  {"path", "host", "sni", "version", "alpn", "resumed", "client_cn", "connection"}

GET /close answers the same and closes the connection (so the next one can resume).
GET /stats answers {"connections", "tls_failures"}. Prints "listening PORT" when ready.
"""
import argparse
import json
import ssl
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context):
        super().__init__(("127.0.0.1", 0), Handler)
        self.context = context
        self.lock = threading.Lock()
        self.connections = 0
        self.tls_failures = 0

    def get_request(self):
        sock, addr = self.socket.accept()
        with self.lock:
            self.connections += 1
            index = self.connections
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        tls.connection_index = index
        tls.sni = ""
        return tls, addr

    def handle_error(self, request, client_address):
        # A failed handshake (wrong client certificate, or none): counted, one line.
        with self.lock:
            self.tls_failures += 1
        print("tls failure:", sys.exc_info()[1], flush=True)
        # Under TLS 1.3 the client may already have sent its request when our alert goes out.
        # Closing with those bytes unread would send a reset, which can reach the client before
        # it read the alert (it then sees a reset, not "certificate required"): end our side
        # with a FIN and read until the client closes (bounded) instead.
        try:
            request.settimeout(2.0)
            socket.socket.shutdown(request, socket.SHUT_WR)
            while socket.socket.recv(request, 65536):
                pass
        except OSError:
            pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        self.request.do_handshake()  # in this connection's thread, not the accept loop
        super().setup()

    def log_message(self, *args):
        pass

    def do_GET(self):
        sock = self.request
        if self.path == "/stats":
            with self.server.lock:
                info = {"connections": self.server.connections,
                        "tls_failures": self.server.tls_failures}
        else:
            cert = sock.getpeercert() or {}
            client_cn = ""
            for rdn in cert.get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        client_cn = value
            info = {"path": self.path, "host": self.headers.get("Host", ""), "sni": sock.sni,
                    "version": sock.version(), "alpn": sock.selected_alpn_protocol() or "",
                    "resumed": sock.session_reused, "client_cn": client_cn,
                    "connection": sock.connection_index}
        body = json.dumps(info).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--client-ca", help="require a client certificate signed by this CA")
    args = parser.parse_args()

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(args.cert, args.key)
    context.set_alpn_protocols(["http/1.1"])
    if args.client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(args.client_ca)

    def on_sni(sock, name, _context):
        sock.sni = name or ""

    context.sni_callback = on_sni
    server = Server(context)
    print("listening", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
