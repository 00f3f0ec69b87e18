// Errors on the data plane are values: a code, where it came from, and whether a retry is safe.
// One function maps a code to the status sent to the client and to a metric/log label.
#pragma once

#include <cstdint>

namespace lb::http {

enum class ErrorCode : uint8_t {
  kNone,
  // The client's faults.
  kBadRequest,       // 400: malformed or ambiguous request
  kRequestTimeout,   // 408: request head not complete within the deadline
  kBodyTooLarge,     // 413
  kUriTooLong,       // 414
  kHeadersTooLarge,  // 431
  kNoRoute,          // 404: no route matches host and path
  kNotImplemented,   // 501: a transfer coding the proxy does not decode (RFC 9112 6.1)
  kRateLimited,      // 429: the route's rate limit for this client (or key) is used up
  // Upstream faults.
  kNoHealthyHost,    // 503: no usable host left to try
  kConnectFailed,    // 502: refused, unreachable, connect timeout
  kUpstreamTls,      // 502: TLS handshake or certificate verification with the backend failed
  kUpstreamReset,    // 502: closed or reset before a full response
  kBadResponse,      // 502: response framing or syntax the proxy refuses
  kUpstreamTimeout,  // 504
  kOverloaded,       // 503: every usable host at its limit, and no room or time in the queue
  kInternal,         // 500
};

enum class ErrorSource : uint8_t { kDownstream, kUpstream, kInternal };

struct Error {
  ErrorCode code = ErrorCode::kNone;
  ErrorSource source = ErrorSource::kInternal;
  bool retryable = false;   // true only when the request cannot have reached the backend
  const char* detail = "";  // static string: why, for logs and the error body

  explicit operator bool() const { return code != ErrorCode::kNone; }
};

inline Error clientError(ErrorCode code, const char* detail) {
  return {code, ErrorSource::kDownstream, false, detail};
}
inline Error upstreamError(ErrorCode code, bool retryable, const char* detail) {
  return {code, ErrorSource::kUpstream, retryable, detail};
}

int statusFor(ErrorCode code);
const char* labelFor(ErrorCode code);  // snake_case, for access logs and metrics
const char* reasonPhrase(int status);

}  // namespace lb::http
