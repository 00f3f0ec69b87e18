#include "proxy/http/error_response.h"

#include "proxy/http/error.h"

namespace lb::http {

ErrorResponse makeErrorResponse(int status, std::string_view detail, std::string_view request_id) {
  ErrorResponse r;
  r.body = std::to_string(status);
  r.body.push_back(' ');
  r.body.append(reasonPhrase(status));
  if (!detail.empty()) r.body.append(": ").append(detail);
  r.body.append("\nrequest-id: ").append(request_id).push_back('\n');
  r.head.status = status;
  r.head.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
  r.head.framing = BodyFraming::kContentLength;
  r.head.content_length = r.body.size();
  return r;
}

}  // namespace lb::http
