// The two computed fields of a WebSocket opening handshake (RFC 6455 4.1, 4.2.2), for an
// HTTP/2 client's extended CONNECT (RFC 8441) that lbproxy turns into an HTTP/1.1 upgrade:
// lbproxy asks the backend with its own key and checks the backend's answer to it. Any thread.
#pragma once

#include <string>
#include <string_view>

namespace lb::http {

// A fresh Sec-WebSocket-Key: 16 random bytes (OpenSSL's generator), base64.
std::string newWebSocketKey();
// The Sec-WebSocket-Accept a server must answer `key` with: base64(SHA-1(key + the GUID)).
std::string webSocketAccept(std::string_view key);

}  // namespace lb::http
