// Response compression policy (docs/compression.md): which content coding a response gets on
// a route, and the head it goes out with. Pure functions of the route's config and the two
// heads; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/message.h"

namespace lb::config {
struct CompressionConfig;
}

namespace lb::compress {

enum class Coding : uint8_t { kIdentity, kGzip, kBrotli };

// "gzip", "br"; "identity".
std::string_view codingName(Coding coding);

// The coding the client's Accept-Encoding fields (all of them) prefer among `offered` ("br",
// "gzip"; earlier wins a tie of q-values), by RFC 9110 12.5.3: q-values, "*" for any coding
// not named, "x-gzip" as gzip. kIdentity when none is acceptable or the request has no field.
Coding negotiate(const http::RequestHead& req, const std::vector<std::string>& offered);

struct Decision {
  Coding coding = Coding::kIdentity;
  // The response is one this route compresses for a client that accepts it: caches must
  // key it by Accept-Encoding (Vary), compressed or not.
  bool varies = false;
};

// Whether the response to `req` is compressed, and how: a body of a listed media type and at
// least min_size (or of unknown length), a status that carries a representation (not 206,
// 204, 304 or 1xx), no Content-Encoding or transfer coding from the backend, no
// Cache-Control: no-transform, not HEAD.
Decision decide(const config::CompressionConfig& config, const http::RequestHead& req,
                const http::ResponseHead& resp);

// The head of a response coded with `coding`: Content-Encoding, no Content-Length (the body
// goes chunked, or as HTTP/2 DATA to its end), a weak ETag (the bytes differ from the
// identity's), no Accept-Ranges, and Vary: Accept-Encoding.
void encodeHead(Coding coding, http::ResponseHead* resp);

// Adds Accept-Encoding to the response's Vary (unless it is there, or Vary is "*").
void addVary(http::ResponseHead* resp);

}  // namespace lb::compress
