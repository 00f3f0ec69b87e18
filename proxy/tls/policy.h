// The protocol policy shared by the TLS of listeners and of backends: TLS 1.2 with forward
// secrecy and AEAD only (Mozilla's "intermediate" list without the finite-field DHE suites),
// OpenSSL's default TLS 1.3 suites (all AEAD), and the key-exchange groups.
#pragma once

namespace lb::tls {

inline constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
inline constexpr const char* kGroups = "X25519:P-256:P-384";

}  // namespace lb::tls
