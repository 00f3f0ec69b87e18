// What a backend sends, rule by rule (RFC 9112 §2-§7, RFC 9110 §15): a response head that
// breaks the grammar or the framing rules is answered with 502 and none of its bytes reach the
// client; bytes past the end of a response (a second response smuggled behind the first, a
// body on a 204 or on the answer to HEAD) never reach the next request, because the upstream
// connection that carried them is not reused; a body whose chunked framing breaks after the
// head went out cuts the client's response (the only signal left). Each case is one raw
// response from a scripted backend; docs/conformance.md has the table with the rule each
// case checks.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

using namespace std::chrono_literals;

// The marker no client may ever see: it stands in every byte a bad response tried to pass on.
constexpr std::string_view kEvil = "EVIL";

struct BadHead {
  const char* name;  // also the request path: /<name>
  std::string response;
};

// Heads the proxy must refuse (502), each with the rule it breaks.
std::vector<BadHead> badHeads() {
  const std::string ok = "HTTP/1.1 200 OK\r\n";
  const std::string body = "\r\nEVIL";
  return {
      // §2.2: a bare CR is not a line end; a field that smuggles one in (response splitting).
      {"bare-cr-in-value", ok + "X-A: a\rSet-Cookie: EVIL=1\r\nContent-Length: 4\r\n" + body},
      // §2.2: no whitespace between the start line and the first field.
      {"space-before-first-field", ok + " X-A: a\r\nContent-Length: 4\r\n" + body},
      // §5.1: no whitespace between a field name and the colon.
      {"space-before-colon", ok + "X-A : a\r\nContent-Length: 4\r\n" + body},
      // §5.2: obs-fold in a response: discard and answer 502 (or unfold; we refuse).
      {"obs-fold", ok + "X-A: a\r\n folded\r\nContent-Length: 4\r\n" + body},
      // RFC 9110 §5.5: no NUL, CR or LF in a field value.
      {"nul-in-value", ok + std::string("X-A: a\0b\r\n", 10) + "Content-Length: 4\r\n" + body},
      // RFC 9110 §5.1: a field name is a token.
      {"bad-field-name", ok + "X\"A: a\r\nContent-Length: 4\r\n" + body},
      {"empty-field-name", ok + ": a\r\nContent-Length: 4\r\n" + body},
      // §4: status-line = HTTP-version SP 3DIGIT SP reason.
      {"two-digit-status", "HTTP/1.1 20 OK\r\nContent-Length: 4\r\n" + body},
      {"four-digit-status", "HTTP/1.1 2000 OK\r\nContent-Length: 4\r\n" + body},
      {"status-below-100", "HTTP/1.1 099 Odd\r\nContent-Length: 4\r\n" + body},
      {"http2-version", "HTTP/2.0 200 OK\r\nContent-Length: 4\r\n" + body},
      {"lowercase-version", "http/1.1 200 OK\r\nContent-Length: 4\r\n" + body},
      {"not-http", "EVIL 200 OK\r\nContent-Length: 4\r\n" + body},
      // §6.3 item 5: differing Content-Length values, or a list of them.
      {"two-content-lengths", ok + "Content-Length: 4\r\nContent-Length: 5\r\n" + body + "!"},
      {"content-length-list", ok + "Content-Length: 4, 5\r\n" + body + "!"},
      // RFC 9110 §8.6: Content-Length = 1*DIGIT.
      {"content-length-plus", ok + "Content-Length: +4\r\n" + body},
      {"content-length-negative", ok + "Content-Length: -4\r\n" + body},
      {"content-length-hex", ok + "Content-Length: 0x4\r\n" + body},
      {"content-length-empty", ok + "Content-Length: \r\n" + body},
      {"content-length-overflow", ok + "Content-Length: 99999999999999999999999\r\n" + body},
      // RFC 9110 §15: a status code is 100-599.
      {"status-600", "HTTP/1.1 600 Odd\r\nContent-Length: 4\r\n" + body},
      // §2.2: a bare LF as a line end (a recipient MAY take it; we refuse, as on requests).
      {"bare-lf", "HTTP/1.1 200 OK\nContent-Length: 4\n\nEVIL"},
      {"space-in-field-name", ok + "X A: b\r\nContent-Length: 4\r\n" + body},
      // §6.3 item 5: even identical repeated values are refused (the RFC allows either).
      {"same-content-length-twice", ok + "Content-Length: 4\r\nContent-Length: 4\r\n" + body},
      // §6.3 item 4: a response whose codings do not end in chunked would run until close;
      // we do not decode codings, so as nginx we refuse it rather than guess.
      {"te-gzip", ok + "Transfer-Encoding: gzip\r\n\r\nEVIL"},
      {"te-chunked-not-last", ok + "Transfer-Encoding: chunked, gzip\r\n\r\nEVIL"},
      // §6.1: chunked at most once.
      {"te-chunked-twice", ok + "Transfer-Encoding: chunked\r\nTransfer-Encoding: "
                                "chunked\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n"},
      // §6.1: Transfer-Encoding in an HTTP/1.0 message is not understood by 1.0: refused.
      {"te-in-http10",
       "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n"},
      // §6.3 item 3: Transfer-Encoding with Content-Length is a smuggling attempt: refused.
      {"te-and-cl",
       ok + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n"},
      // RFC 9110 §15.2.2: a 101 the request did not ask for.
      {"unasked-101",
       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: EVIL\r\nConnection: upgrade"
       "\r\n\r\nEVIL"},
      // An interim 103 is fine; the bad final head after it is not.
      {"bad-head-after-103", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok +
                                 "Content-Length: 4\r\nContent-Length: 5\r\n" + body + "!"},
      // A head that never ends within the limit.
      {"head-too-large",
       ok + "X-A: " + std::string(70000, 'a') + "\r\nContent-Length: 4\r\n" + body},
      // HTTP/0.9-style: a body without a head.
      {"no-head", "EVIL and nothing else"},
  };
}

class ResponseFraming : public ::testing::Test {
 protected:
  void SetUp() override {
    for (BadHead& c : badHeads()) scripted_["/" + std::string(c.name)] = c.response;
    // Splitting: a second response behind the first in the same write; the connection stays
    // open, so a pooled reuse would hand "EVIL" to the next request.
    scripted_["/smuggle"] =
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL";
    // RFC 9110 §15.3.5: a 204 has no body, whatever it says.
    scripted_["/no-content"] = "HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\nEVIL";
    // RFC 9110 §9.3.2: the answer to HEAD has no body.
    scripted_["/head"] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL";
    // §7.1: broken chunked framing after the head went out.
    scripted_["/bad-chunk-size"] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    scripted_["/chunk-without-crlf"] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nEVILx\r\n0\r\n\r\n";
    scripted_["/chunk-size-overflow"] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n";
    scripted_["/chunk-ext-bare-cr"] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;a\rb\r\nEVIL\r\n0\r\n\r\n";
    scripted_["/bad-trailer"] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nX : y\r\n\r\n";
    // Codings before chunked are the content's: passed through with our own chunking.
    scripted_["/gzip-then-chunked"] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n";
    backend_ =
        std::make_unique<TestBackend>([this](const BackendRequest& req, BackendConnection& conn) {
          auto it = scripted_.find(req.target);
          if (it == scripted_.end()) {
            conn.write(simpleResponse(200, "fine"));
            return;
          }
          conn.write(it->second);
          // Bad heads and broken bodies: close after them, as a broken server might; the
          // ones whose extra bytes must not leak stay open for a reuse.
          if (it->first != "/smuggle" && it->first != "/no-content" && it->first != "/head")
            conn.close();
        });
    TestConfig cfg;
    cfg.hosts = {backend_->address()};
    cfg.workers = 1;  // one pool: a leaked connection would be the next request's
    cfg.cluster_extra = "    max_attempts: 1\n";
    proxy_ = std::make_unique<ProxyProcess>(cfg.yaml());
    ASSERT_TRUE(proxy_->ok()) << proxy_->process().output();
  }

  // Everything the client got for one request on a fresh connection, until the proxy closed
  // or the response ended.
  std::string rawGet(const std::string& path, const std::string& method = "GET") {
    TestClient c(proxy_->port());
    c.send(method + " " + path + " HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n\r\n");
    return c.readUntilClose(10s);
  }

  std::map<std::string, std::string> scripted_;
  std::unique_ptr<TestBackend> backend_;
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(ResponseFraming, BadHeadsGive502AndNoneOfTheirBytes) {
  for (const BadHead& c : badHeads()) {
    const std::string got = rawGet("/" + std::string(c.name));
    EXPECT_EQ(got.rfind("HTTP/1.1 502 ", 0), 0u) << c.name << ":\n" << got;
    EXPECT_EQ(got.find(kEvil), std::string::npos) << c.name << ":\n" << got;
    // The proxy still serves the next request (a fresh upstream connection).
    auto next = httpGet(proxy_->port(), "/fine");
    ASSERT_TRUE(next) << c.name;
    EXPECT_EQ(next->body, "fine") << c.name;
  }
  // Each case was recorded as the upstream's fault.
  auto log = proxy_->waitAccessLog(2 * badHeads().size());
  size_t bad_responses = 0;
  for (const std::string& line : log) bad_responses += jsonField(line, "status") == "502";
  EXPECT_EQ(bad_responses, badHeads().size());
}

TEST_F(ResponseFraming, BytesPastTheEndOfAResponseNeverReachTheNextRequest) {
  for (const char* path : {"/smuggle", "/no-content", "/head"}) {
    TestClient c(proxy_->port());
    const std::string method = std::string(path) == "/head" ? "HEAD" : "GET";
    ASSERT_TRUE(c.send(method + " " + path + " HTTP/1.1\r\nHost: test.local\r\n\r\n"));
    auto first = c.read(method == "HEAD");
    ASSERT_TRUE(first) << path;
    EXPECT_EQ(first->body.find(kEvil), std::string::npos) << path;
    if (std::string(path) == "/smuggle") {
      EXPECT_EQ(first->body, "ok");
    }
    // The next requests, on this client connection and on another, get their own answers.
    ASSERT_TRUE(c.send("GET /after HTTP/1.1\r\nHost: test.local\r\n\r\n"));
    auto after = c.read();
    ASSERT_TRUE(after) << path;
    EXPECT_EQ(after->body, "fine") << path;
    auto other = httpGet(proxy_->port(), "/other");
    ASSERT_TRUE(other) << path;
    EXPECT_EQ(other->body, "fine") << path;
  }
  // Each request after one with extra bytes went on a fresh upstream connection.
  auto reqs = backend_->requests();
  ASSERT_EQ(reqs.size(), 9u);
  for (size_t i = 0; i < reqs.size(); i += 3)
    EXPECT_NE(reqs[i + 1].connection, reqs[i].connection) << reqs[i].target;
}

TEST_F(ResponseFraming, BrokenChunkedBodiesCutTheResponse) {
  for (const char* path : {"/bad-chunk-size", "/chunk-without-crlf", "/chunk-size-overflow",
                           "/chunk-ext-bare-cr", "/bad-trailer"}) {
    TestClient c(proxy_->port());
    ASSERT_TRUE(c.send(std::string("GET ") + path + " HTTP/1.1\r\nHost: test.local\r\n\r\n"));
    // Either the head went out and the response is cut before its end (no complete
    // response), or it is a 502; never a complete 200, never the bad bytes.
    auto r = c.read();
    if (r && r->status == 200) {
      EXPECT_FALSE(r->complete) << path << " " << r->body;
    } else if (r) {
      EXPECT_EQ(r->status, 502) << path << " " << r->body;
      EXPECT_EQ(r->body.find(kEvil), std::string::npos) << path;
    }
    EXPECT_TRUE(c.waitClosed(10s)) << path;
  }
}

TEST_F(ResponseFraming, CodingsBeforeChunkedPassThrough) {
  auto r = httpGet(proxy_->port(), "/gzip-then-chunked");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->body, "abcd");
  ASSERT_NE(r->header("Transfer-Encoding"), nullptr);
  EXPECT_EQ(*r->header("Transfer-Encoding"), "gzip, chunked");
}

}  // namespace
}  // namespace lb::test
