#include "proxy/tls/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstring>

namespace lb::tls {

namespace {

struct Secret {
  unsigned char bytes[32];
  bool ok = false;
};

const Secret& processSecret() {
  static const Secret secret = [] {
    Secret s;
    s.ok = RAND_bytes(s.bytes, sizeof(s.bytes)) == 1;
    return s;
  }();
  return secret;
}

struct PeriodKeys {
  unsigned char name[16];
  unsigned char aes[32];
  unsigned char hmac[32];
};

// HMAC-SHA256(secret, label || period), one per key.
bool derive(int64_t period, PeriodKeys* out) {
  const Secret& secret = processSecret();
  if (!secret.ok) return false;
  auto one = [&](char label, unsigned char* dst, size_t len) {
    unsigned char msg[9];
    msg[0] = static_cast<unsigned char>(label);
    for (int i = 0; i < 8; ++i) msg[1 + i] = static_cast<unsigned char>(period >> (8 * i));
    unsigned char md[32];
    unsigned int md_len = 0;
    if (!HMAC(EVP_sha256(), secret.bytes, sizeof(secret.bytes), msg, sizeof(msg), md, &md_len))
      return false;
    std::memcpy(dst, md, len);
    return true;
  };
  return one('n', out->name, sizeof(out->name)) && one('a', out->aes, sizeof(out->aes)) &&
         one('h', out->hmac, sizeof(out->hmac));
}

// The keys of the last two periods this thread derived: a handshake then costs no HMAC.
// Thread-local, so workers share nothing; a new period is derived once per thread.
bool cachedKeys(int64_t period, PeriodKeys* out) {
  struct Slot {
    int64_t period = -1;
    PeriodKeys keys;
  };
  thread_local Slot slots[2];
  Slot& slot = slots[period & 1];
  if (slot.period != period) {
    if (!derive(period, &slot.keys)) return false;
    slot.period = period;
  }
  *out = slot.keys;
  return true;
}

bool setMacKey(evp_mac_ctx_st* mac, unsigned char* key, size_t len) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, len),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  return EVP_MAC_CTX_set_params(mac, params) == 1;
}

}  // namespace

int ticketKeyCallback(int64_t rotation_seconds, unsigned char key_name[16], unsigned char* iv,
                      evp_cipher_ctx_st* cipher, evp_mac_ctx_st* mac, int encrypt) {
  if (rotation_seconds <= 0) rotation_seconds = 1;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t period = now / rotation_seconds;
  PeriodKeys keys;
  if (encrypt) {
    if (!cachedKeys(period, &keys)) return -1;
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
    std::memcpy(key_name, keys.name, sizeof(keys.name));
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, keys.aes, iv) != 1) return -1;
    return setMacKey(mac, keys.hmac, sizeof(keys.hmac)) ? 1 : -1;
  }
  for (int64_t age = 0; age <= 1; ++age) {
    if (!cachedKeys(period - age, &keys)) return -1;
    if (std::memcmp(key_name, keys.name, sizeof(keys.name)) != 0) continue;
    if (!setMacKey(mac, keys.hmac, sizeof(keys.hmac))) return -1;
    if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, keys.aes, iv) != 1) return -1;
    return age == 0 ? 1 : 2;
  }
  return 0;
}

}  // namespace lb::tls
