#include "proxy/stream/http1_request.h"

namespace lb::stream {

Http1Request::Http1Request(WorkerContext& worker)
    : parser(http::Http1HeadParser::Kind::kRequest, http::HeadLimits{}), request(worker) {}

void Http1Request::reset() {
  request.reset();
  parser.reset();
  body = http::BodyDecoder();
  framing = Framing{};  // scratch is cleared before each use
}

}  // namespace lb::stream
