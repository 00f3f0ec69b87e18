#include "common/http_client.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <strings.h>

#include "common/address.h"

namespace lb::common {

namespace {

struct Exchange {
  HttpResult result;
  event_base* base = nullptr;
  bool done = false;
  evhttp_request_error error = EVREQ_HTTP_TIMEOUT;
  bool failed = false;
};

const char* errorText(evhttp_request_error e) {
  switch (e) {
    case EVREQ_HTTP_TIMEOUT:
      return "timed out";
    case EVREQ_HTTP_EOF:
      return "connection closed before an answer";
    case EVREQ_HTTP_INVALID_HEADER:
      return "invalid response";
    case EVREQ_HTTP_BUFFER_ERROR:
      return "connection failed";
    case EVREQ_HTTP_REQUEST_CANCEL:
      return "cancelled";
    case EVREQ_HTTP_DATA_TOO_LONG:
      return "response too large";
  }
  return "failed";
}

void onDone(evhttp_request* req, void* arg) noexcept {
  auto* ex = static_cast<Exchange*>(arg);
  ex->done = true;
  if (!req || ex->failed || evhttp_request_get_response_code(req) == 0) {
    ex->result.error = ex->failed ? errorText(ex->error) : "connection failed";
  } else {
    ex->result.status = evhttp_request_get_response_code(req);
    const evkeyvalq* headers = evhttp_request_get_input_headers(req);
    for (const evkeyval* h = headers->tqh_first; h; h = h->next.tqe_next)
      ex->result.headers.emplace_back(h->key, h->value);
    evbuffer* in = evhttp_request_get_input_buffer(req);
    ex->result.body.resize(evbuffer_get_length(in));
    evbuffer_remove(in, ex->result.body.data(), ex->result.body.size());
  }
  event_base_loopbreak(ex->base);
}

void onError(evhttp_request_error error, void* arg) noexcept {
  auto* ex = static_cast<Exchange*>(arg);
  ex->failed = true;
  ex->error = error;
}

// 0 for a method this client does not send.
int commandOf(const std::string& method) {
  if (method == "GET") return EVHTTP_REQ_GET;
  if (method == "HEAD") return EVHTTP_REQ_HEAD;
  if (method == "POST") return EVHTTP_REQ_POST;
  if (method == "PUT") return EVHTTP_REQ_PUT;
  if (method == "DELETE") return EVHTTP_REQ_DELETE;
  if (method == "PATCH") return EVHTTP_REQ_PATCH;
  return 0;
}

}  // namespace

const std::string* HttpResult::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (strncasecmp(key.data(), name.data(), name.size()) == 0 && key.size() == name.size())
      return &value;
  return nullptr;
}

HttpResult httpCall(const HttpCall& call) {
  HttpResult bad;
  auto hp = parseHostPort(call.address, false);
  if (!hp) {
    bad.error = "invalid address " + call.address;
    return bad;
  }
  const int command = commandOf(call.method);
  if (command == 0) {
    bad.error = "unsupported method " + call.method;
    return bad;
  }
  Exchange ex;
  ex.base = event_base_new();
  evhttp_connection* conn =
      evhttp_connection_base_new(ex.base, nullptr, hp->host.c_str(), hp->port);
  timeval tv{static_cast<time_t>(call.timeout.count() / 1000),
             static_cast<suseconds_t>(call.timeout.count() % 1000 * 1000)};
  evhttp_connection_set_timeout_tv(conn, &tv);
  evhttp_connection_set_retries(conn, 0);
  evhttp_request* req = evhttp_request_new(onDone, &ex);
  evhttp_request_set_error_cb(req, onError);
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Host", call.address.c_str());
  evhttp_add_header(headers, "Connection", "close");
  if (!call.bearer.empty())
    evhttp_add_header(headers, "Authorization", ("Bearer " + call.bearer).c_str());
  if (!call.body.empty()) {
    evhttp_add_header(headers, "Content-Type", "application/json");
    evbuffer_add(evhttp_request_get_output_buffer(req), call.body.data(), call.body.size());
  }
  if (evhttp_make_request(conn, req, static_cast<evhttp_cmd_type>(command), call.target.c_str()) !=
      0) {
    bad.error = "cannot send the request";
  } else {
    // Bounded by the connection timeout; the extra timer guards against a stuck connect.
    timeval guard{tv.tv_sec * 2 + 1, 0};
    event_base_loopexit(ex.base, &guard);
    event_base_dispatch(ex.base);
    if (!ex.done) bad.error = "timed out";
  }
  evhttp_connection_free(conn);
  event_base_free(ex.base);
  return ex.done ? ex.result : bad;
}

}  // namespace lb::common
