#include "proxy/http/http1_encoder.h"

#include <charconv>

#include "proxy/http/error.h"
#include "proxy/http/header_edits.h"

namespace lb::http {

namespace {

void appendHeader(std::string* out, std::string_view name, std::string_view value) {
  out->append(name);
  out->append(": ");
  out->append(value);
  out->append("\r\n");
}

void appendNumber(std::string* out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), n);
  out->append(buf, end);
}

bool isFraming(std::string_view name) {
  return equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "transfer-encoding");
}

// Our own chunked framing, after whatever codings the sender applied to the content.
void appendTransferEncoding(std::string* out, const std::string& codings) {
  out->append("Transfer-Encoding: ");
  if (!codings.empty()) {
    out->append(codings);
    out->append(", ");
  }
  out->append("chunked\r\n");
}

}  // namespace

void encodeUpstreamRequest(const RequestHead& req, const ForwardContext& ctx, std::string* out) {
  out->append(req.method);
  out->push_back(' ');
  out->append(req.path);
  out->append(" HTTP/1.1\r\n");
  if (!req.authority.empty()) appendHeader(out, "Host", req.authority);
  const std::string* prior_xff = nullptr;
  for (const Header& h : req.headers) {
    if (isHopByHop(h.name, req.connection_tokens) || isFraming(h.name) ||
        equalsIgnoreCase(h.name, "host") || equalsIgnoreCase(h.name, "expect") ||
        equalsIgnoreCase(h.name, "x-request-id") || equalsIgnoreCase(h.name, "x-forwarded-proto") ||
        equalsIgnoreCase(h.name, "x-forwarded-host"))
      continue;
    if (ctx.edits && ctx.edits->drops(h.name)) continue;
    if (equalsIgnoreCase(h.name, "x-forwarded-for")) {
      prior_xff = &h.value;  // several fields combine; keep the last list and append to it
      continue;
    }
    appendHeader(out, h.name, h.value);
  }
  out->append("X-Forwarded-For: ");
  if (prior_xff && !prior_xff->empty()) {
    out->append(*prior_xff);
    out->append(", ");
  }
  out->append(ctx.client_ip);
  out->append("\r\n");
  appendHeader(out, "X-Forwarded-Proto", ctx.proto);
  if (!req.authority.empty()) appendHeader(out, "X-Forwarded-Host", req.authority);
  appendHeader(out, "X-Request-Id", ctx.request_id);
  if (ctx.edits) {
    for (const Header& h : ctx.edits->set) {
      if (!ctx.edits->templated) {
        appendHeader(out, h.name, h.value);
        continue;
      }
      out->append(h.name);
      out->append(": ");
      expandVariables(h.value, *ctx.vars, out);
      out->append("\r\n");
    }
  }
  if (!ctx.upgrade.empty()) {
    appendHeader(out, "Upgrade", ctx.upgrade);
    out->append("Connection: upgrade\r\n");
  }
  switch (req.framing) {
    case BodyFraming::kContentLength:
      out->append("Content-Length: ");
      appendNumber(out, req.content_length);
      out->append("\r\n");
      break;
    case BodyFraming::kChunked:
      appendTransferEncoding(out, req.transfer_codings);
      break;
    case BodyFraming::kNone:
    case BodyFraming::kUntilClose:
      if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH")
        out->append("Content-Length: 0\r\n");
      break;
  }
  out->append("\r\n");
}

void encodeClientResponse(const ResponseHead& resp, BodyFraming framing, bool request_was_head,
                          std::string_view connection, std::string_view request_id,
                          std::string* out) {
  out->append("HTTP/1.1 ");
  appendNumber(out, static_cast<uint64_t>(resp.status));
  out->push_back(' ');
  out->append(resp.reason.empty() ? reasonPhrase(resp.status) : resp.reason);
  out->append("\r\n");
  for (const Header& h : resp.headers) {
    if (isHopByHop(h.name, resp.connection_tokens) || isFraming(h.name)) continue;
    appendHeader(out, h.name, h.value);
  }
  switch (framing) {
    case BodyFraming::kContentLength:
      out->append("Content-Length: ");
      appendNumber(out, resp.content_length);
      out->append("\r\n");
      break;
    case BodyFraming::kChunked:
      appendTransferEncoding(out, resp.transfer_codings);
      break;
    case BodyFraming::kUntilClose:
      break;
    case BodyFraming::kNone:
      if (resp.status < 200 || resp.status == 204) break;
      if (request_was_head || resp.status == 304) {
        // These describe the representation without sending it: keep the upstream's length.
        if (const std::string* cl = resp.find("content-length"))
          appendHeader(out, "Content-Length", *cl);
      } else {
        out->append("Content-Length: 0\r\n");
      }
      break;
  }
  if (resp.status == 101)
    if (const std::string* upgrade = resp.find("upgrade")) appendHeader(out, "Upgrade", *upgrade);
  if (!request_id.empty() && !resp.find("x-request-id"))
    appendHeader(out, "X-Request-Id", request_id);
  if (!connection.empty()) appendHeader(out, "Connection", connection);
  out->append("\r\n");
}

void appendChunkHeader(size_t size, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), size, 16);
  out->append(buf, end);
  out->append("\r\n");
}

}  // namespace lb::http
