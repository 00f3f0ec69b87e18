// The controller's units: report merging and the listener transaction (real sockets on
// loopback).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/control/listener_set.h"
#include "proxy/control/merged_reports.h"

namespace lb::control {
namespace {

TEST(MergedReports, SumsEveryWorkersNumbersOnce) {
  upstream::HostState a, b;
  std::vector<worker::WorkerReport> reports(2);
  reports[0].downstream_connections = 3;
  reports[1].downstream_connections = 4;
  reports[0].hosts[&a].active_requests = 1;
  reports[0].hosts[&a].idle_connections = 2;
  reports[0].hosts[&a].report.window.requests = 10;
  reports[1].hosts[&a].active_requests = 5;
  reports[1].hosts[&a].report.window.requests = 20;
  reports[1].hosts[&b].active_requests = 7;
  reports[0].routes["r"].window.requests = 1;
  reports[1].routes["r"].window.requests = 2;
  reports[1].listeners["l"].handshakes[0] = 9;
  MergedReports m = mergeReports(reports);
  EXPECT_EQ(m.workers, 2u);
  EXPECT_EQ(m.downstream_connections, 7u);
  EXPECT_EQ(m.host(&a).active_requests, 6u);
  EXPECT_EQ(m.host(&a).idle_connections, 2u);
  EXPECT_EQ(m.host(&a).report.window.requests, 30u);
  EXPECT_EQ(m.host(&b).active_requests, 7u);
  EXPECT_EQ(m.route("r").window.requests, 3u);
  EXPECT_EQ(m.listener("l").handshakes[0], 9u);
  upstream::HostState unknown;
  EXPECT_EQ(m.host(&unknown).active_requests, 0u) << "a host no worker reported is empty";
  EXPECT_EQ(m.route("none").window.requests, 0u);
}

// A plain socket bound to 127.0.0.1:port (no SO_REUSEPORT): succeeds only while no listener
// holds the port.
int bindPlain(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 1) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(ListenerSet, OpensOneSocketPerWorkerAndKeepsUnchangedListeners) {
  ListenerSet set;
  std::string error;
  auto change = set.prepare({{"web", "127.0.0.1:0"}}, 2, &error);
  ASSERT_TRUE(change) << error;
  ASSERT_EQ(change->added().size(), 1u);
  const uint16_t port = change->added()[0].second.port;
  EXPECT_NE(port, 0);
  set.commit(*change);
  ListenerSet::WorkerFds fds = change->takeFds();
  ASSERT_EQ(fds.size(), 2u);
  EXPECT_NE(fds[0].at("web"), fds[1].at("web"));
  EXPECT_EQ(set.bound().at("web").port, port);

  auto same = set.prepare({{"web", "127.0.0.1:0"}}, 2, &error);
  ASSERT_TRUE(same);
  EXPECT_TRUE(same->added().empty()) << "same name and address: the workers keep their sockets";
  EXPECT_TRUE(same->removed().empty());
  auto gone = set.prepare({}, 2, &error);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->removed(), std::vector<std::string>{"web"});
  for (auto& m : fds)
    for (auto& [name, fd] : m) close(fd);
}

TEST(ListenerSet, AFailedPortFailsTheWholeChangeAndClosesWhatItOpened) {
  // Find a free port for the listener that will open, and hold another one.
  int probe = bindPlain(0);
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
  const uint16_t taken = ntohs(a.sin_port);  // stays bound without SO_REUSEPORT

  ListenerSet set;
  std::string error;
  {
    auto change =
        set.prepare({{"a", "127.0.0.1:0"}, {"b", "127.0.0.1:" + std::to_string(taken)}}, 2, &error);
    EXPECT_FALSE(change);
    EXPECT_NE(error.find("listener b"), std::string::npos) << error;
  }
  EXPECT_TRUE(set.bound().empty()) << "nothing changed";
  // Listener a's sockets were closed: a plain bind of the same ephemeral range works, and the
  // set's next prepare of a still succeeds.
  auto again = set.prepare({{"a", "127.0.0.1:0"}}, 1, &error);
  ASSERT_TRUE(again) << error;
  const uint16_t port = again->added()[0].second.port;
  again.reset();  // dropped without commit: closed
  int plain = bindPlain(port);
  EXPECT_GE(plain, 0) << "a dropped change closes its sockets";
  if (plain >= 0) close(plain);
  close(probe);
}

}  // namespace
}  // namespace lb::control
