// The PROXY protocol header parser and encoder (v1 and v2) and the trusted-network matching.
#include "proxy/net/proxy_protocol.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "common/address.h"

namespace lb::net {
namespace {

using Status = ProxyParse::Status;

ProxyParse parse(const std::string& bytes) {
  return parseProxyHeader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

std::string addressOf(const ProxyHeader& h, bool dest = false) {
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(h.ipv6 ? AF_INET6 : AF_INET, dest ? h.dest : h.source, buf, sizeof(buf));
  return buf;
}

ProxyHeader header(const char* source, const char* dest, uint16_t sport, uint16_t dport) {
  ProxyHeader h;
  h.ipv6 = std::string_view(source).find(':') != std::string_view::npos;
  const int family = h.ipv6 ? AF_INET6 : AF_INET;
  EXPECT_EQ(inet_pton(family, source, h.source), 1);
  EXPECT_EQ(inet_pton(family, dest, h.dest), 1);
  h.source_port = sport;
  h.dest_port = dport;
  return h;
}

std::string encoded(const ProxyHeader& h, int version) {
  std::string out;
  encodeProxyHeader(h, version, &out);
  return out;
}

const std::string kV2Sig("\r\n\r\n\0\r\nQUIT\n", 12);

std::string v2(uint8_t ver_cmd, uint8_t fam, const std::string& body) {
  std::string h = kV2Sig;
  h.push_back(static_cast<char>(ver_cmd));
  h.push_back(static_cast<char>(fam));
  h.push_back(static_cast<char>(body.size() >> 8));
  h.push_back(static_cast<char>(body.size() & 0xff));
  return h + body;
}

TEST(ProxyHeaderParser, V1Tcp4AndTcp6) {
  const std::string line = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n";
  ProxyParse p = parse(line + "GET / HTTP/1.1\r\n");
  ASSERT_EQ(p.status, Status::kDone) << p.error;
  EXPECT_EQ(p.length, line.size());
  EXPECT_FALSE(p.header.local);
  EXPECT_EQ(addressOf(p.header), "192.0.2.7");
  EXPECT_EQ(addressOf(p.header, true), "198.51.100.1");
  EXPECT_EQ(p.header.source_port, 56324);
  EXPECT_EQ(p.header.dest_port, 443);

  p = parse("PROXY TCP6 2001:db8::7 2001:db8::1 1000 443\r\n");
  ASSERT_EQ(p.status, Status::kDone) << p.error;
  EXPECT_TRUE(p.header.ipv6);
  EXPECT_EQ(addressOf(p.header), "2001:db8::7");

  p = parse("PROXY UNKNOWN whatever follows\r\n");
  ASSERT_EQ(p.status, Status::kDone);
  EXPECT_TRUE(p.header.local);
}

TEST(ProxyHeaderParser, V1WaitsForTheWholeLineAndRefusesBadOnes) {
  EXPECT_EQ(parse("PROX").status, Status::kNeedMore);
  EXPECT_EQ(parse("PROXY TCP4 192.0.2.7 198.51.").status, Status::kNeedMore);
  for (const char* bad : {"PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",        // a field short
                          "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443 x\r\n",  // one more
                          "PROXY TCP4 192.0.2.999 198.51.100.1 1 2\r\n",
                          "PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n",  // not IPv4
                          "PROXY TCP4 192.0.2.7 198.51.100.1 65536 443\r\n",
                          "PROXY TCP4 192.0.2.7 198.51.100.1 0443 443\r\n",
                          "PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n",
                          "PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n",  // LF without CR
                          // Found by proxy_header_fuzzer: a stray LF before the CRLF was
                          // refused in pieces but taken whole.
                          "PROXY UNKNOWN\rPROXY\n UNKNOWN\r\n", "GET / HTTP/1.1\r\n"}) {
    EXPECT_EQ(parse(bad).status, Status::kError) << bad;
  }
  // Longer than the spec's 107 bytes without CRLF.
  EXPECT_EQ(parse("PROXY TCP6 " + std::string(120, '1')).status, Status::kError);
}

TEST(ProxyHeaderParser, V2ProxyLocalAndLimits) {
  // PROXY, TCP over IPv4: 192.0.2.7:56324 -> 198.51.100.1:443, then a TLV that is skipped.
  std::string body("\xc0\x00\x02\x07\xc6\x33\x64\x01\xdc\x04\x01\xbb", 12);
  body += std::string(
      "\x04\x00\x02"
      "ab",
      5);
  std::string header = v2(0x21, 0x11, body);
  ProxyParse p = parse(header + "\x16\x03\x01");  // a TLS ClientHello follows
  ASSERT_EQ(p.status, Status::kDone) << p.error;
  EXPECT_EQ(p.length, header.size());
  EXPECT_EQ(addressOf(p.header), "192.0.2.7");
  EXPECT_EQ(addressOf(p.header, true), "198.51.100.1");
  EXPECT_EQ(p.header.source_port, 56324);
  EXPECT_EQ(p.header.dest_port, 443);
  // Any prefix of it waits for the rest.
  for (size_t n : {size_t{1}, size_t{11}, size_t{12}, size_t{15}, header.size() - 1})
    EXPECT_EQ(parse(header.substr(0, n)).status, Status::kNeedMore) << n;

  std::string six(36, '\0');
  six[15] = 7;  // source ::7
  six[31] = 1;  // destination ::1
  six[32] = 0x12;
  six[33] = 0x34;
  p = parse(v2(0x21, 0x21, six));
  ASSERT_EQ(p.status, Status::kDone) << p.error;
  EXPECT_TRUE(p.header.ipv6);
  EXPECT_EQ(addressOf(p.header), "::7");
  EXPECT_EQ(addressOf(p.header, true), "::1");
  EXPECT_EQ(p.header.source_port, 0x1234);

  p = parse(v2(0x20, 0x00, ""));  // LOCAL: a health check from the balancer itself
  ASSERT_EQ(p.status, Status::kDone);
  EXPECT_TRUE(p.header.local);

  EXPECT_EQ(parse(v2(0x11, 0x11, body)).status, Status::kError);  // version 1 in a v2 header
  EXPECT_EQ(parse(v2(0x22, 0x11, body)).status, Status::kError);  // command 2
  EXPECT_EQ(parse(v2(0x21, 0x12, body)).status, Status::kError);  // datagram
  EXPECT_EQ(parse(v2(0x21, 0x11, body.substr(0, 8))).status, Status::kError);  // too short
  EXPECT_EQ(parse(v2(0x21, 0x31, body)).status, Status::kError);               // AF_UNIX
  EXPECT_EQ(parse(v2(0x21, 0x11, std::string(2000, '\0'))).status, Status::kError);
}

TEST(ProxyHeaderEncoder, V1LinesAsTheSpecWritesThem) {
  EXPECT_EQ(encoded(header("192.0.2.7", "198.51.100.1", 56324, 443), 1),
            "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n");
  EXPECT_EQ(encoded(header("2001:db8::7", "2001:db8::1", 1000, 8443), 1),
            "PROXY TCP6 2001:db8::7 2001:db8::1 1000 8443\r\n");
  ProxyHeader local;
  local.local = true;
  EXPECT_EQ(encoded(local, 1), "PROXY UNKNOWN\r\n");
}

TEST(ProxyHeaderEncoder, V2BytesAsTheSpecWritesThem) {
  // The same bytes the parser test above takes apart, without its TLV.
  const std::string body("\xc0\x00\x02\x07\xc6\x33\x64\x01\xdc\x04\x01\xbb", 12);
  EXPECT_EQ(encoded(header("192.0.2.7", "198.51.100.1", 56324, 443), 2), v2(0x21, 0x11, body));
  ProxyHeader local;
  local.local = true;
  EXPECT_EQ(encoded(local, 2), v2(0x20, 0x00, ""));
  EXPECT_EQ(encoded(header("::7", "::1", 1, 2), 2).size(), 16u + 36u);
}

TEST(ProxyHeaderEncoder, WhatIsEncodedParsesBackToTheSameAddresses) {
  for (int version : {1, 2}) {
    for (const ProxyHeader& h :
         {header("192.0.2.7", "198.51.100.1", 65535, 1),
          header("2001:db8::7", "::ffff:192.0.2.1", 0, 443), header("::", "ff02::1", 80, 8080)}) {
      const std::string bytes = encoded(h, version) + "GET / HTTP/1.1\r\n";
      ProxyParse p = parse(bytes);
      ASSERT_EQ(p.status, Status::kDone) << version << " " << p.error;
      EXPECT_EQ(p.length, encoded(h, version).size());
      EXPECT_EQ(p.header.ipv6, h.ipv6);
      EXPECT_EQ(addressOf(p.header), addressOf(h)) << version;
      EXPECT_EQ(addressOf(p.header, true), addressOf(h, true)) << version;
      EXPECT_EQ(p.header.source_port, h.source_port);
      EXPECT_EQ(p.header.dest_port, h.dest_port);
    }
  }
}

TEST(ProxyHeaderParser, TrustedNetworks) {
  auto net = common::parseIpNetwork("10.1.0.0/16");
  ASSERT_TRUE(net);
  uint8_t a[4] = {10, 1, 200, 3}, b[4] = {10, 2, 0, 1};
  EXPECT_TRUE(common::networkContains(*net, a, false));
  EXPECT_FALSE(common::networkContains(*net, b, false));
  // An IPv4-mapped IPv6 peer is its IPv4 address.
  uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 9};
  EXPECT_TRUE(common::networkContains(*net, mapped, true));

  auto host = common::parseIpNetwork("192.0.2.7");  // one address: /32
  ASSERT_TRUE(host);
  uint8_t same[4] = {192, 0, 2, 7}, next[4] = {192, 0, 2, 8};
  EXPECT_TRUE(common::networkContains(*host, same, false));
  EXPECT_FALSE(common::networkContains(*host, next, false));

  auto odd = common::parseIpNetwork("192.0.2.128/25");  // host bits below the prefix
  ASSERT_TRUE(odd);
  uint8_t in[4] = {192, 0, 2, 200}, out[4] = {192, 0, 2, 100};
  EXPECT_TRUE(common::networkContains(*odd, in, false));
  EXPECT_FALSE(common::networkContains(*odd, out, false));

  auto v6 = common::parseIpNetwork("2001:db8::/32");
  ASSERT_TRUE(v6);
  uint8_t v6in[16] = {0x20, 0x01, 0x0d, 0xb8, 1};
  EXPECT_TRUE(common::networkContains(*v6, v6in, true));
  EXPECT_FALSE(common::networkContains(*v6, a, false));

  EXPECT_TRUE(common::parseIpNetwork("0.0.0.0/0"));
  for (const char* bad :
       {"10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "example.com", "::1/129", "10.0.0.0/8x"})
    EXPECT_FALSE(common::parseIpNetwork(bad)) << bad;
}

}  // namespace
}  // namespace lb::net
