#include "proxy/http/error_response.h"

#include "proxy/http/error.h"

namespace lb::http {

namespace {

// A JSON string's contents (RFC 8259 7): the request id may be the client's own.
void appendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20) {
      out->append("\\u00");
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 0xf]);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

}  // namespace

ErrorResponse makeErrorResponse(int status, std::string_view detail, std::string_view request_id,
                                bool json) {
  ErrorResponse r;
  r.head.status = status;
  r.head.framing = BodyFraming::kContentLength;
  if (json) {
    r.body = "{\"error\":{\"status\":" + std::to_string(status) + ",\"reason\":";
    appendJsonString(reasonPhrase(status), &r.body);
    r.body.append(",\"message\":");
    appendJsonString(detail, &r.body);
    r.body.append(",\"request_id\":");
    appendJsonString(request_id, &r.body);
    r.body.append("}}\n");
    r.head.headers.push_back({"Content-Type", "application/json"});
    r.head.content_length = r.body.size();
    return r;
  }
  r.body = std::to_string(status);
  r.body.push_back(' ');
  r.body.append(reasonPhrase(status));
  if (!detail.empty()) r.body.append(": ").append(detail);
  r.body.append("\nrequest-id: ").append(request_id).push_back('\n');
  r.head.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
  r.head.content_length = r.body.size();
  return r;
}

}  // namespace lb::http
