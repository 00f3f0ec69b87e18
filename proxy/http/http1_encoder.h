// Builds HTTP/1.1 heads from parsed fields (never from received bytes) and chunk framing.
// Pure functions into a caller-owned string; any thread.
#pragma once

#include <string>
#include <string_view>

#include "proxy/http/message.h"

namespace lb::http {

struct EditVariables;
struct HeaderEdits;

struct ForwardContext {
  std::string_view client_ip;
  std::string_view request_id;
  std::string_view proto = "http";
  // Upgrade protocols to ask the backend for (the route allowed them); empty: none.
  std::string_view upgrade;
  // Not part of the head: the PROXY protocol header a new upstream connection begins with
  // (the cluster sends them), and which a pooled one must have begun with; empty: none.
  std::string_view proxy_header;
  // The route's request header edits; null: none. Templated ones fill their variables from
  // `vars`, which must then be set.
  const HeaderEdits* edits = nullptr;
  const EditVariables* vars = nullptr;
};

// The upstream request: origin-form path, Host from the authority, hop-by-hop fields removed,
// X-Forwarded-*, X-Request-Id set, and framing re-declared for how the body will be sent.
// With ctx.upgrade: Upgrade and Connection: upgrade, the only hop-by-hop fields forwarded.
// With ctx.edits: the fields they drop are left out and the ones they set added.
void encodeUpstreamRequest(const RequestHead& req, const ForwardContext& ctx, std::string* out);

// The response head for the client. `framing` is how the proxy will send the body (it may
// differ from the upstream's: an until-close body is re-chunked for an HTTP/1.1 client).
// `connection` is the Connection field to send: "close", "keep-alive" (HTTP/1.0 clients) or "".
// `request_id` is added as X-Request-Id unless the upstream already set one. A 101 keeps the
// backend's Upgrade field (send it with `connection` "upgrade").
void encodeClientResponse(const ResponseHead& resp, BodyFraming framing, bool request_was_head,
                          std::string_view connection, std::string_view request_id,
                          std::string* out);

void appendChunkHeader(size_t size, std::string* out);
inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace lb::http
