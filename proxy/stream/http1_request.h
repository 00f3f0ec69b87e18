// The state of one HTTP/1.1 request on a client connection: its head parser, body decoder,
// the ActiveRequest that routes and proxies it, and the connection's framing of its response.
// A connection holds one only while a request is in progress, from its first byte to the end
// of its response; between requests it goes back to the worker's RequestPool. So an idle
// keep-alive connection costs a few hundred bytes (nginx and HAProxy do the same with their
// request pools and buffers), and a busy one allocates nothing per request.
//
// Owner: one worker thread (the connection while in use, the pool between uses).
#pragma once

#include <cstdint>
#include <string>

#include "proxy/http/body_decoder.h"
#include "proxy/http/http1_parser.h"
#include "proxy/stream/active_request.h"

namespace lb::stream {

class WorkerContext;

struct Http1Request {
  explicit Http1Request(WorkerContext& worker);
  // Forgets the request (its exchange ends without calling back); capacity stays.
  void reset();
  size_t headCapacity() const { return parser.headBytes(); }

  http::Http1HeadParser parser;
  http::BodyDecoder body;
  ActiveRequest request;
  // What the connection changes per request, reset by value.
  struct Framing {
    bool body_done = false;  // the whole request body was read from the client
    bool sent_continue = false;
    bool client_chunked = false;  // response body re-chunked for the client
    bool tunnel = false;          // the backend switched protocols: raw bytes both ways
    bool client_eof = false;      // in a tunnel: the client closed its sending side
    http::BodyFraming client_framing = http::BodyFraming::kNone;
  };
  Framing framing;
  std::string scratch;  // reused for encoding heads and chunk sizes
};

}  // namespace lb::stream
