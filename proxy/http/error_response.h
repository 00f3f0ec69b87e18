// The response the proxy sends for an error of its own, whatever the client's protocol: the
// status, a text (or JSON) body naming the reason and the request id, and its length. Pure; any
// thread.
#pragma once

#include <string>
#include <string_view>

#include "proxy/http/message.h"

namespace lb::http {

struct ErrorResponse {
  ResponseHead head;  // status, Content-Type, framing by length
  std::string body;   // "502 Bad Gateway: <detail>\nrequest-id: <id>\n"
};

// `json` (a route's `errors: json`): {"error": {"status", "reason", "message", "request_id"}}
// as application/json, for API clients that parse every answer.
ErrorResponse makeErrorResponse(int status, std::string_view detail, std::string_view request_id,
                                bool json = false);

}  // namespace lb::http
