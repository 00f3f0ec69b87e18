#include "common/address.h"

#include <arpa/inet.h>

#include <charconv>

namespace lb::common {

std::optional<HostPort> parseHostPort(std::string_view text, bool allow_zero_port) {
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    out.host = std::string(text.substr(1, close - 1));
    out.ipv6 = true;
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(out.ipv6 ? AF_INET6 : AF_INET, out.host.c_str(), buf) != 1) return std::nullopt;
  if (port_text.empty()) return std::nullopt;
  uint32_t port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size()) return std::nullopt;
  if (port > 65535 || (port == 0 && !allow_zero_port)) return std::nullopt;
  out.port = static_cast<uint16_t>(port);
  return out;
}

bool isLoopbackAddress(std::string_view address) {
  auto hp = parseHostPort(address, true);
  return hp && (hp->host == "::1" || hp->host.starts_with("127."));
}

}  // namespace lb::common
