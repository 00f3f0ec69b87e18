#include "proxy/net/proxy_protocol.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "common/event_loop.h"

namespace lb::net {

namespace {

constexpr uint8_t kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view kV1Prefix = "PROXY ";
constexpr size_t kV1Max = 107;  // "PROXY TCP6 " + two full IPv6 addresses + ports + CRLF

ProxyParse error(const char* why) {
  ProxyParse p;
  p.status = ProxyParse::Status::kError;
  p.error = why;
  return p;
}

bool parsePort(std::string_view s, uint16_t* out) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

// "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n" (or TCP6, or UNKNOWN ...).
ProxyParse parseV1(const uint8_t* data, size_t len) {
  const std::string_view in(reinterpret_cast<const char*>(data), std::min(len, kV1Max));
  const size_t end = in.find("\r\n");
  if (end == std::string_view::npos) {
    if (len >= kV1Max) return error("PROXY v1 line longer than 107 bytes");
    if (in.find('\n') != std::string_view::npos) return error("PROXY v1 line without CRLF");
    return {};
  }
  std::string_view line = in.substr(kV1Prefix.size(), end - kV1Prefix.size());
  // A CR or LF inside the line: refused whole, as a prefix of it was (a stray LF before the
  // CRLF makes it malformed whichever piece it arrives in).
  if (line.find_first_of("\r\n") != std::string_view::npos) return error("malformed PROXY v1 line");
  ProxyParse p;
  p.status = ProxyParse::Status::kDone;
  p.length = end + 2;
  if (line.starts_with("UNKNOWN")) {  // anything may follow; the addresses are not given
    p.header.local = true;
    return p;
  }
  std::string_view fields[5];
  for (int i = 0; i < 5; ++i) {
    const size_t space = line.find(' ');
    if ((space == std::string_view::npos) != (i == 4)) return error("malformed PROXY v1 line");
    fields[i] = line.substr(0, space);
    line.remove_prefix(space == std::string_view::npos ? line.size() : space + 1);
  }
  if (fields[0] == "TCP6")
    p.header.ipv6 = true;
  else if (fields[0] != "TCP4")
    return error("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
  const std::string source(fields[1]), dest(fields[2]);
  const int family = p.header.ipv6 ? AF_INET6 : AF_INET;
  if (inet_pton(family, source.c_str(), p.header.source) != 1 ||
      inet_pton(family, dest.c_str(), p.header.dest) != 1)
    return error("invalid address in PROXY v1 line");
  if (!parsePort(fields[3], &p.header.source_port) || !parsePort(fields[4], &p.header.dest_port))
    return error("invalid port in PROXY v1 line");
  return p;
}

ProxyParse parseV2(const uint8_t* data, size_t len) {
  if (len < 16) return {};
  const uint8_t version = data[12] >> 4, command = data[12] & 0x0F;
  if (version != 2) return error("PROXY v2 header with another version");
  if (command > 1) return error("PROXY v2 command is neither LOCAL nor PROXY");
  const size_t body = (size_t{data[14]} << 8) | data[15];
  if (16 + body > kMaxProxyHeader) return error("PROXY v2 header too long");
  if (len < 16 + body) return {};
  ProxyParse p;
  p.status = ProxyParse::Status::kDone;
  p.length = 16 + body;
  if (command == 0) {  // LOCAL: the balancer's own connection; whatever follows is ignored
    p.header.local = true;
    return p;
  }
  const uint8_t family = data[13] >> 4, transport = data[13] & 0x0F;
  if (transport != 1) return error("PROXY v2 transport is not a stream (TCP)");
  const uint8_t* addr = data + 16;
  if (family == 1) {  // AF_INET: source, destination, source port, destination port
    if (body < 12) return error("PROXY v2 IPv4 address block too short");
    std::memcpy(p.header.source, addr, 4);
    std::memcpy(p.header.dest, addr + 4, 4);
    p.header.source_port = static_cast<uint16_t>((addr[8] << 8) | addr[9]);
    p.header.dest_port = static_cast<uint16_t>((addr[10] << 8) | addr[11]);
  } else if (family == 2) {  // AF_INET6
    if (body < 36) return error("PROXY v2 IPv6 address block too short");
    p.header.ipv6 = true;
    std::memcpy(p.header.source, addr, 16);
    std::memcpy(p.header.dest, addr + 16, 16);
    p.header.source_port = static_cast<uint16_t>((addr[32] << 8) | addr[33]);
    p.header.dest_port = static_cast<uint16_t>((addr[34] << 8) | addr[35]);
  } else if (family == 0) {  // AF_UNSPEC with PROXY: no address to take
    p.header.local = true;
  } else {
    return error("PROXY v2 address family is not IPv4 or IPv6");
  }
  return p;
}

}  // namespace

ProxyParse parseProxyHeader(const uint8_t* data, size_t len) {
  // Decide the version as soon as the first bytes allow; a prefix of either waits.
  const size_t v2_have = std::min(len, sizeof(kV2Signature));
  if (std::equal(data, data + v2_have, kV2Signature)) {
    if (len < sizeof(kV2Signature)) return {};
    return parseV2(data, len);
  }
  const size_t v1_have = std::min(len, kV1Prefix.size());
  if (std::string_view(reinterpret_cast<const char*>(data), v1_have) ==
      kV1Prefix.substr(0, v1_have)) {
    if (len < kV1Prefix.size()) return {};
    return parseV1(data, len);
  }
  return error("the connection does not start with a PROXY header");
}

void encodeProxyHeader(const ProxyHeader& h, int version, std::string* out) {
  const size_t addr_len = h.ipv6 ? 16 : 4;
  if (version == 1) {
    if (h.local) {
      out->append("PROXY UNKNOWN\r\n");
      return;
    }
    const int family = h.ipv6 ? AF_INET6 : AF_INET;
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    inet_ntop(family, h.source, src, sizeof(src));
    inet_ntop(family, h.dest, dst, sizeof(dst));
    out->append(h.ipv6 ? "PROXY TCP6 " : "PROXY TCP4 ");
    out->append(src).append(" ").append(dst).append(" ");
    out->append(std::to_string(h.source_port)).append(" ");
    out->append(std::to_string(h.dest_port)).append("\r\n");
    return;
  }
  out->append(reinterpret_cast<const char*>(kV2Signature), sizeof(kV2Signature));
  if (h.local) {
    const char tail[4] = {0x20, 0x00, 0x00, 0x00};  // v2 LOCAL, AF_UNSPEC, no address block
    out->append(tail, sizeof(tail));
    return;
  }
  const size_t body = 2 * addr_len + 4;
  const char head[4] = {0x21, static_cast<char>(h.ipv6 ? 0x21 : 0x11), 0x00,
                        static_cast<char>(body)};  // v2 PROXY; INET or INET6 over STREAM
  out->append(head, sizeof(head));
  out->append(reinterpret_cast<const char*>(h.source), addr_len);
  out->append(reinterpret_cast<const char*>(h.dest), addr_len);
  const char ports[4] = {static_cast<char>(h.source_port >> 8), static_cast<char>(h.source_port),
                         static_cast<char>(h.dest_port >> 8), static_cast<char>(h.dest_port)};
  out->append(ports, sizeof(ports));
}

ProxyHeaderReader::ProxyHeaderReader(common::EventLoop& loop, int fd, Done done, void* arg)
    : fd_(fd), done_(done), arg_(arg) {
  // Edge-triggered like the Stream that takes the socket over afterwards (libevent refuses to
  // mix the two on one fd), and a peek leaves the bytes in place: a new edge means new bytes.
  ev_ = event_new(loop.base(), fd, EV_READ | EV_PERSIST | EV_ET, onReadable, this);
  event_add(ev_, nullptr);
  event_active(ev_, EV_READ, 0);  // the header may be here already
}

ProxyHeaderReader::~ProxyHeaderReader() {
  if (ev_) event_free(ev_);
}

void ProxyHeaderReader::onReadable(int, short, void* arg) noexcept {
  static_cast<ProxyHeaderReader*>(arg)->read();
}

void ProxyHeaderReader::read() {
  uint8_t buf[kMaxProxyHeader];
  const ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  ProxyParse result;
  if (n <= 0) {
    result.status = ProxyParse::Status::kError;
    result.error = "the connection closed before its PROXY header";
  } else {
    result = parseProxyHeader(buf, static_cast<size_t>(n));
    if (result.status == ProxyParse::Status::kNeedMore) return;  // wait for the next edge
    if (result.status == ProxyParse::Status::kDone &&
        ::recv(fd_, buf, result.length, 0) != static_cast<ssize_t>(result.length)) {
      result.status = ProxyParse::Status::kError;
      result.error = "could not take the PROXY header off the socket";
    }
  }
  event_free(ev_);
  ev_ = nullptr;
  done_(arg_, result);  // may destroy this reader
}

}  // namespace lb::net
