// How large a message head may be, per listener. Its own header so that the configuration
// snapshot can hold it without pulling in the parser (and llhttp).
#pragma once

#include <cstdint>

namespace lb::http {

struct HeadLimits {
  uint32_t max_request_line = 8192;
  uint32_t max_header_bytes = 32768;  // whole head, request line included
  uint32_t max_headers = 100;
};

}  // namespace lb::http
