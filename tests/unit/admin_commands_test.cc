// The admin API's bodies -> typed commands: every check of form, with the messages the API
// answers with (docs/admin-api.md).
#include "proxy/admin/admin_commands.h"

#include <gtest/gtest.h>

#include "proxy/admin/admin_json.h"

namespace lb::admin {
namespace {

using upstream::AdminState;

TEST(AdminCommands, AddHostTakesEveryFieldAndRejectsEachMistake) {
  auto ok = parseAddHost(
      "app",
      R"({"id":"h-1","address":"127.0.0.1:81","weight":3,"labels":{"v":"2"},"state":"drain"})");
  ASSERT_TRUE(ok.command) << ok.error;
  EXPECT_EQ(ok.command->cluster, "app");
  EXPECT_EQ(ok.command->host.id, "h-1");
  EXPECT_EQ(ok.command->host.address, "127.0.0.1:81");
  EXPECT_EQ(ok.command->host.weight, 3u);
  EXPECT_EQ(ok.command->host.labels.at("v"), "2");
  EXPECT_EQ(ok.command->state, AdminState::kDrain);

  auto error = [](const std::string& body) { return parseAddHost("app", body).error; };
  EXPECT_NE(error("{\"id\": ").find("not valid JSON"), std::string::npos);
  EXPECT_EQ(error("[]"), "body must be a JSON object");
  EXPECT_EQ(error(R"({"address":"127.0.0.1:1"})"), "field \"id\" (string) is required");
  EXPECT_EQ(error(R"({"id":"x"})"), "field \"address\" (string, IP:PORT) is required");
  EXPECT_EQ(error(R"({"id":"x","address":"host:80"})"),
            "field \"address\": invalid address \"host:80\" (expected IP:PORT)");
  EXPECT_EQ(error(R"({"id":"a/b","address":"127.0.0.1:1"})"),
            "field \"id\" must be 1-128 of A-Z a-z 0-9 . _ -");
  EXPECT_NE(error(R"({"id":"x","address":"127.0.0.1:1","weight":0})").find("weight"),
            std::string::npos);
  EXPECT_EQ(error(R"({"id":"x","address":"127.0.0.1:1","labels":[]})"),
            "field \"labels\" must be an object");
  EXPECT_EQ(error(R"({"id":"x","address":"127.0.0.1:1","labels":{"k":1}})"),
            "label \"k\" must be a string");
  EXPECT_EQ(error(R"({"id":"x","address":"127.0.0.1:1","state":"sleep"})"),
            "field \"state\" must be ready, drain or maint");
  EXPECT_EQ(error(R"({"id":"x","address":"127.0.0.1:1","wat":1})"), "unknown field \"wat\"");
}

TEST(AdminCommands, SetStateAndWeight) {
  auto drain = parseSetHostState("app", "h1", R"({"state":"drain","deadline":"30s"})");
  ASSERT_TRUE(drain.command) << drain.error;
  EXPECT_EQ(drain.command->state, AdminState::kDrain);
  EXPECT_EQ(drain.command->deadline, config::Duration(30000));
  EXPECT_EQ(parseSetHostState("app", "h1", R"({"state":"ready","deadline":"1s"})").error,
            "\"deadline\" applies to state drain only");
  EXPECT_EQ(parseSetHostState("app", "h1", R"({"state":"drain","deadline":"soon"})").error,
            "field \"deadline\" must be a duration such as \"30s\"");
  EXPECT_EQ(parseSetHostState("app", "h1", R"({"state":"drain","x":1})").error,
            "unknown field \"x\"");

  auto w = parseSetHostWeight("app", "h1", R"({"weight":7})");
  ASSERT_TRUE(w.command) << w.error;
  EXPECT_EQ(w.command->weight, 7u);
  const std::string range = parseSetHostWeight("app", "h1", R"({"weight":-1})").error;
  EXPECT_EQ(range, "field \"weight\" must be an integer " + std::to_string(config::kMinWeight) +
                       "-" + std::to_string(config::kMaxWeight));
  EXPECT_EQ(parseSetHostWeight("app", "h1", "{}").error, range);
}

TEST(AdminJson, EachErrorKindAnswersWithItsStatusAndCode) {
  using K = control::ControlError::Kind;
  auto answer = [](control::ControlError e) { return errorAnswer(e); };
  EXPECT_EQ(answer({K::kNotFound, "no"}).first, 404);
  EXPECT_EQ(answer({K::kNotFound, "no"}).second["error"]["code"], "not_found");
  control::ControlError busy{K::kConflict, "busy"};
  busy.active_requests = 3;
  auto [status, body] = answer(busy);
  EXPECT_EQ(status, 409);
  EXPECT_EQ(body["active_requests"], 3);
  control::ControlError invalid{K::kInvalidConfig, "invalid"};
  invalid.config_errors.push_back({"lb.yaml", {4, 7}, "clusters[0].name", "required"});
  auto [istatus, ibody] = answer(invalid);
  EXPECT_EQ(istatus, 422);
  EXPECT_EQ(ibody["error"]["code"], "invalid_config");
  ASSERT_EQ(ibody["errors"].size(), 1u);
  EXPECT_EQ(ibody["errors"][0]["line"], 4);
  EXPECT_EQ(ibody["errors"][0]["field"], "clusters[0].name");
  EXPECT_EQ(answer({K::kReloadFailed, "port"}).second["error"]["code"], "reload_failed");
  EXPECT_EQ(answer({K::kInternal, "x"}).first, 500);
}

}  // namespace
}  // namespace lb::admin
