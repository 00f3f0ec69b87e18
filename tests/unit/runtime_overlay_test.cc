// Runtime changes re-applied to a reloaded file, and the state file round trip.
#include "proxy/control/runtime_overlay.h"

#include <gtest/gtest.h>

namespace lb::control {
namespace {

config::ProxyConfig fileWith(std::vector<std::string> ids) {
  config::ProxyConfig cfg;
  config::ClusterConfig c;
  c.name = "app";
  for (size_t i = 0; i < ids.size(); ++i)
    c.hosts.push_back({ids[i], "127.0.0.1:" + std::to_string(9000 + i), 1, {}, {}});
  cfg.clusters.push_back(c);
  return cfg;
}

std::vector<std::string> idsOf(const config::ProxyConfig& cfg) {
  std::vector<std::string> ids;
  for (const auto& h : cfg.clusters[0].hosts) ids.push_back(h.id);
  return ids;
}

TEST(RuntimeOverlay, AddRemoveAndWeightApplyToEveryReload) {
  RuntimeOverlay o;
  o.addHost("app", {"new", "127.0.0.1:9100", 3, {{"version", "2"}}, {}});
  o.removeHost("app", "a");
  o.overrides["app"]["b"].weight = 7;
  auto eff = o.apply(fileWith({"a", "b"}));
  EXPECT_EQ(idsOf(eff), (std::vector<std::string>{"b", "new"}));
  EXPECT_EQ(eff.clusters[0].hosts[0].weight, 7u);
  EXPECT_EQ(eff.clusters[0].hosts[1].labels.at("version"), "2");
  // The file now lists "new" itself: the file's entry wins, no duplicate.
  auto eff2 = o.apply(fileWith({"a", "b", "new"}));
  EXPECT_EQ(idsOf(eff2), (std::vector<std::string>{"b", "new"}));
  EXPECT_EQ(eff2.clusters[0].hosts[1].address, "127.0.0.1:9002");
  // Removing a host added at runtime forgets it rather than masking it.
  o.removeHost("app", "new");
  EXPECT_EQ(idsOf(o.apply(fileWith({"a", "b"}))), (std::vector<std::string>{"b"}));
}

// Runtime destinations replace the file's only while every cluster they name is in the file;
// destinationsFor() says which apply, so what the API reports is what serves.
TEST(RuntimeOverlay, DestinationsApplyOnlyWhileTheirClustersExist) {
  config::ProxyConfig file = fileWith({"a"});
  config::ClusterConfig other;
  other.name = "other";
  file.clusters.push_back(other);
  config::ListenerConfig l;
  config::RouteConfig r;
  r.name = "shop";
  r.cluster = "app";
  r.destinations.push_back({"app", {}, 1, {}});
  l.routes.push_back(r);
  file.listeners.push_back(l);
  RuntimeOverlay o;
  o.destinations["shop"] = {{"app", {}, 3, {}}, {"other", {}, 1, {}}};
  EXPECT_NE(o.destinationsFor("shop", file), nullptr);
  EXPECT_EQ(o.apply(file).listeners[0].routes[0].destinations.size(), 2u);
  file.clusters.pop_back();  // the file dropped "other"
  EXPECT_EQ(o.destinationsFor("shop", file), nullptr);
  auto eff = o.apply(file);
  ASSERT_EQ(eff.listeners[0].routes[0].destinations.size(), 1u);
  EXPECT_EQ(eff.listeners[0].routes[0].destinations[0].weight, 1u);
  EXPECT_EQ(o.destinationsFor("nope", file), nullptr);
}

TEST(RuntimeOverlay, StateFileRoundTrip) {
  RuntimeOverlay o;
  o.addHost("app", {"new", "127.0.0.1:9100", 3, {{"version", "2"}}, {}});
  o.removeHost("app", "a");
  o.overrides["app"]["b"].admin = upstream::AdminState::kDrain;
  o.overrides["app"]["b"].weight = 4;
  RuntimeOverlay back;
  std::string error;
  ASSERT_TRUE(back.fromJson(o.toJson(), &error)) << error;
  EXPECT_EQ(back.toJson(), o.toJson());
  EXPECT_EQ(*back.overrides["app"]["b"].admin, upstream::AdminState::kDrain);

  RuntimeOverlay bad;
  EXPECT_FALSE(bad.fromJson("{not json", &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(bad.fromJson(
      R"({"version":1,"added":{},"removed":{},"overrides":{"app":{"b":{"state":"sleepy"}}}})",
      &error));
  EXPECT_NE(error.find("unknown state"), std::string::npos);
}

}  // namespace
}  // namespace lb::control
