#include "common/address.h"

#include <arpa/inet.h>

#include <algorithm>
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

std::optional<IpNetwork> parseIpNetwork(std::string_view text) {
  IpNetwork net;
  const size_t slash = text.find('/');
  const std::string host(text.substr(0, slash));
  net.ipv6 = host.find(':') != std::string::npos;
  if (inet_pton(net.ipv6 ? AF_INET6 : AF_INET, host.c_str(), net.bytes) != 1) return std::nullopt;
  const unsigned max = net.ipv6 ? 128 : 32;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || prefix > max)
      return std::nullopt;
  }
  net.prefix = static_cast<uint8_t>(prefix);
  for (unsigned bit = prefix; bit < max; ++bit)
    net.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  return net;
}

bool networkContains(const IpNetwork& network, const uint8_t* address, bool ipv6) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (ipv6 && !network.ipv6 && std::equal(kMapped, kMapped + 12, address)) {
    address += 12;  // ::ffff:a.b.c.d is a.b.c.d
    ipv6 = false;
  }
  if (ipv6 != network.ipv6) return false;
  for (unsigned bit = 0; bit < network.prefix; bit += 8) {
    const unsigned left = network.prefix - bit;
    const uint8_t mask = left >= 8 ? 0xff : static_cast<uint8_t>(0xff00u >> left);
    if ((address[bit / 8] & mask) != network.bytes[bit / 8]) return false;
  }
  return true;
}

}  // namespace lb::common
