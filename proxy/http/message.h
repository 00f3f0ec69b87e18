// Parsed HTTP/1 message heads. Owned by whoever parsed them (one connection, one thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lb::http {

struct Header {
  std::string name;
  std::string value;  // OWS trimmed
};

bool equalsIgnoreCaseSlow(std::string_view a, std::string_view b);  // same sizes
// ASCII case-insensitive equality (header names, tokens). Inline: most calls differ in size.
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && equalsIgnoreCaseSlow(a, b);
}

// How the body of a message is delimited on the wire.
enum class BodyFraming : uint8_t { kNone, kContentLength, kChunked, kUntilClose };

struct RequestHead {
  std::string method;
  std::string target;         // as received (origin-form or absolute-form)
  std::string path;           // path + query, origin-form (absolute-form reduced)
  std::string authority;      // Host, or the authority of an absolute-form target (RFC 9112 3.2.2)
  uint8_t version_minor = 1;  // HTTP/1.x
  std::vector<Header> headers;
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  // Transfer codings applied before the final "chunked" ("gzip, deflate"), lower-cased and
  // without parameters. The proxy re-chunks the body and declares these ahead of its chunked.
  std::string transfer_codings;
  bool keep_alive = true;                      // after Connection tokens and version defaults
  bool expect_continue = false;                // Expect: 100-continue
  std::vector<std::string> connection_tokens;  // lower-cased, for hop-by-hop removal
  // The protocols of an Upgrade field that Connection names (RFC 9110 7.8), as sent;
  // empty when the request asks for no upgrade (or is not HTTP/1.1).
  std::string upgrade;

  const std::string* find(std::string_view name) const;
  // Back to the default state, keeping allocated capacity (no allocation per request).
  void clear();
};

struct ResponseHead {
  int status = 0;
  std::string reason;
  uint8_t version_minor = 1;
  std::vector<Header> headers;
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  std::string transfer_codings;  // as in RequestHead
  bool keep_alive = true;
  std::vector<std::string> connection_tokens;

  const std::string* find(std::string_view name) const;
  void clear();  // as RequestHead::clear
};

// True for fields that apply to one connection only (RFC 9110 7.6.1), including the ones
// the message's own Connection header lists.
bool isHopByHop(std::string_view name, const std::vector<std::string>& connection_tokens);

}  // namespace lb::http
