// The HTTP desync corpus (aws/http-desync-guardian, 159 cases; see ../shared/corpus/README.md)
// sent byte for byte through lbproxy to a recording backend. Per expected tier:
//   Severe     400 and close; nothing reaches the backend
//   Ambiguous  400 and close, or forwarded with clean framing
//   Acceptable forwarded or rejected
//   Compliant  forwarded
// The corpus lives outside the repository (it is third-party data, not ours to commit); the
// test looks for it in $LB_CORPUS_DIR, then beside the checkout, then in /work/shared.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "tests/support/configs.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_backend.h"
#include "tests/support/test_client.h"
#include "tests/support/test_util.h"

namespace lb::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Cases whose expected tier we deliberately do not meet, each rejected (400 + close) instead,
// as nginx and HAProxy do. The test asserts that they are rejected, so a change shows.
const std::map<std::string, std::string> kDeliberateRejections = {
    {"Empty URI",
     "\"GET  HTTP/1.1\" has no request target; guessing \"/\" would route a request the client "
     "never made"},
};

// Cases the corpus calls Compliant whose request body carries a transfer coding other than
// chunked (gzip, deflate, compress, identity): lbproxy does not decode those, so it answers
// 501 and closes, as RFC 9112 6.1 asks of a server (and as nginx and Envoy do); forwarding would
// hand the backend a coding it may not know either.
const std::map<std::string, std::string> kNotImplemented = {
    {"Correct TE OK", "Transfer-Encoding: gzip, chunked"},
    {"Transfer-Encoding: identity and chunked OK", "identity is not a transfer coding any more"},
    {"Multiple transfer encoding headers in a single request OK", "gzip, then chunked"},
    {"Different Transfer-Encoding headers", "gzip, deflate, identity, then chunked"},
    {"Different Transfer-Encoding headers combined", "gzip, deflate, identity, compress, chunked"},
    {"Transfer-Encoding with a param: chunked;custom_param", "gzip and deflate, then chunked"},
};

struct CorpusCase {
  std::string file;
  std::string name;
  std::string tier;
  std::string bytes;  // the request as sent
};

std::string corpusDir() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("LB_CORPUS_DIR")) candidates.push_back(env);
  candidates.push_back(std::string(LB_SOURCE_DIR) + "/../shared/corpus/http-desync-guardian");
  candidates.push_back("/work/shared/corpus/http-desync-guardian");
  for (const auto& c : candidates)
    if (fs::exists(c + "/severe.yaml")) return c;
  return "";
}

// Serialises a case byte for byte. Two additions, both so that a proxy that forwards the
// request can complete it: a Host field when the case has none (most cases were written
// without one, and HTTP/1.1 without Host is a 400 of its own), and a body that matches the
// framing the case declares (an empty last chunk, or Content-Length bytes).
std::string serialise(const YAML::Node& c) {
  std::string out = c["method"].as<std::string>() + " " + c["uri"].as<std::string>() + " " +
                    c["version"].as<std::string>() + "\r\n";
  bool has_host = false, has_te = false;
  std::string content_length;
  for (const auto& h : c["headers"]) {
    std::string name = h["name"].as<std::string>();
    std::string value = h["value"].as<std::string>();
    out += name + ": " + value + "\r\n";
    has_host |= iequals(name, "host");
    has_te |= iequals(name, "transfer-encoding");
    if (iequals(name, "content-length")) {
      size_t b = value.find_first_not_of(" \t"), e = value.find_last_not_of(" \t");
      content_length = b == std::string::npos ? "" : value.substr(b, e - b + 1);
    }
  }
  if (!has_host) out += "Host: corpus.test\r\n";
  out += "\r\n";
  if (has_te) {
    out += "0\r\n\r\n";
  } else if (!content_length.empty() && content_length.size() <= 7 &&
             content_length.find_first_not_of("0123456789") == std::string::npos) {
    out += std::string(std::stoul(content_length), 'b');
  }
  return out;
}

std::vector<CorpusCase> loadCorpus(const std::string& dir) {
  std::vector<CorpusCase> cases;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    YAML::Node doc = YAML::LoadFile(f.string());
    for (const auto& c : doc) {
      cases.push_back({f.filename().string(), c["name"].as<std::string>(),
                       c["expected"]["tier"].as<std::string>(), serialise(c)});
    }
  }
  return cases;
}

TEST(DesyncCorpus, EveryCaseGetsTheOutcomeItsTierAllows) {
  std::string dir = corpusDir();
  if (dir.empty()) GTEST_SKIP() << "corpus not found (set LB_CORPUS_DIR)";
  std::vector<CorpusCase> cases = loadCorpus(dir);
  ASSERT_EQ(cases.size(), 159u);

  TestBackend backend([](const BackendRequest&, BackendConnection& conn) {
    conn.write(simpleResponse(200, "recorded"));
  });
  TestConfig cfg;
  cfg.hosts = {backend.address()};
  cfg.workers = 1;
  ProxyProcess proxy(cfg.yaml());
  ASSERT_TRUE(proxy.ok()) << proxy.process().output();

  struct Counts {
    int total = 0, forwarded = 0, rejected = 0, wrong = 0;
  };
  std::map<std::string, Counts> by_tier;
  int severe_forwarded = 0;
  for (const CorpusCase& c : cases) {
    size_t before = backend.requestCount();
    TestClient client(proxy.port());
    ASSERT_TRUE(client.send(c.bytes));
    auto resp = client.read(false, 3s);
    bool closed = resp && resp->status == 400 && client.waitClosed(3s);
    std::this_thread::sleep_for(5ms);
    size_t reached = backend.requestCount() - before;
    bool forwarded = resp && resp->status == 200 && reached == 1;
    if (forwarded && c.tier == "Ambiguous") {
      // Forwarded ambiguous requests end both connections: the client's and the upstream's.
      const std::string* conn_hdr = resp->header("Connection");
      bool client_closed = conn_hdr && *conn_hdr == "close" && client.waitClosed(3s);
      bool upstream_closed = waitUntil([&] { return backend.openConnections() == 0; }, 3s);
      EXPECT_TRUE(client_closed) << c.name;
      EXPECT_TRUE(upstream_closed) << c.name;
      forwarded = client_closed && upstream_closed;
    }
    bool rejected = resp && resp->status == 400 && closed && reached == 0;

    Counts& n = by_tier[c.tier];
    ++n.total;
    n.forwarded += forwarded;
    n.rejected += rejected;
    bool ok = false;
    if (kNotImplemented.count(c.name)) {
      ok = resp && resp->status == 501 && reached == 0 && client.waitClosed(3s);
      std::printf("[ corpus  ] 501: \"%s\" (%s): %s\n", c.name.c_str(), c.tier.c_str(),
                  kNotImplemented.at(c.name).c_str());
    } else if (kDeliberateRejections.count(c.name)) {
      ok = rejected;
      std::printf("[ corpus  ] deliberate: \"%s\" (%s) rejected: %s\n", c.name.c_str(),
                  c.tier.c_str(), kDeliberateRejections.at(c.name).c_str());
    } else if (c.tier == "Severe")
      ok = rejected;
    else if (c.tier == "Ambiguous")
      ok = rejected || forwarded;
    else if (c.tier == "Acceptable")
      ok = rejected || forwarded;
    else if (c.tier == "Compliant")
      ok = forwarded;
    if (c.tier == "Severe" && reached) ++severe_forwarded;
    if (c.tier == "Ambiguous" && forwarded)
      std::printf("[ corpus  ] Ambiguous forwarded: %s: %s\n", c.file.c_str(), c.name.c_str());
    if (!ok) {
      ++n.wrong;
      ADD_FAILURE() << c.file << ": " << c.name << " (" << c.tier << "): status "
                    << (resp ? resp->status : 0) << ", reached backend " << reached << "\n"
                    << testing::PrintToString(c.bytes);
    }
  }
  // Forwarded requests carry exactly one framing declaration, rebuilt by the proxy.
  for (const BackendRequest& r : backend.requests()) {
    EXPECT_LE(r.headerCount("Content-Length") + r.headerCount("Transfer-Encoding"), 1u)
        << r.raw_head;
    EXPECT_EQ(r.headerCount("Host"), 1u) << r.raw_head;
  }
  for (const auto& [tier, n] : by_tier)
    std::printf("[ corpus  ] %-10s %3d cases: %3d forwarded, %3d rejected (400+close), %d wrong\n",
                tier.c_str(), n.total, n.forwarded, n.rejected, n.wrong);
  std::printf("[ corpus  ] Severe cases that reached the backend: %d\n", severe_forwarded);
  EXPECT_EQ(severe_forwarded, 0);
}

}  // namespace
}  // namespace lb::test
