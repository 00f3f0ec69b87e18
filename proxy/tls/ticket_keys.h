// Session-ticket keys that rotate without shared state: the keys for period N are derived
// from a random secret made once per process and the number N = now / rotation. Every worker
// (and every listener) derives the same keys, so a ticket issued by one worker resumes on
// another, and no thread ever writes a key another reads. A ticket from the previous period is
// still accepted (and replaced by a fresh one); older ones fall back to a full handshake.
// Restarting the process invalidates all tickets.
//
// Any thread: called from OpenSSL's ticket callback during handshakes.
#pragma once

#include <cstdint>

struct ssl_st;
struct evp_cipher_ctx_st;
struct evp_mac_ctx_st;

namespace lb::tls {

// The SSL_CTX_set_tlsext_ticket_key_evp_cb callback body, with the rotation period in seconds.
// Returns what OpenSSL expects: 1 = use (encrypt, or decrypt with a current key), 2 = decrypt
// and renew, 0 = unknown key (full handshake), -1 = failure.
int ticketKeyCallback(int64_t rotation_seconds, unsigned char key_name[16], unsigned char* iv,
                      evp_cipher_ctx_st* cipher, evp_mac_ctx_st* mac, int encrypt);

}  // namespace lb::tls
