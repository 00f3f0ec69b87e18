// lbctl's plumbing: which server to call with which token, JSON calls, tables, exit codes.
// Single-threaded CLI.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/admin_client.h"

namespace lb::lbctl {

// Stable exit codes (documented in --help and the README).
enum Exit : int {
  kOk = 0,
  kError = 1,
  kUsage = 2,
  kRolledBack = 3,
  kWaitingApproval = 4,
  kPaused = 5,
  kTimedOut = 6,
};

struct Server {
  std::string url;  // http://IP:PORT
  std::string token;
};

struct Options {
  Server proxy;
  Server control;
  bool json = false;  // -o json
};

using client::Reply;

// One call through the shared admin client (client/admin_client.h); a transport error's
// message names the server.
Reply call(const Server& server, const std::string& method, const std::string& target,
           const nlohmann::json& body = nullptr);

// Prints the error of a failed call to stderr and returns kError.
int fail(const std::string& what, const Reply& r);

// A table for people: columns sized to their widest cell.
void printTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

std::string str(const nlohmann::json& j);  // strings unquoted, numbers and bools as text
std::string formatTime(int64_t ms);        // "2026-11-24 21:03:07" UTC, "-" for 0

}  // namespace lb::lbctl
