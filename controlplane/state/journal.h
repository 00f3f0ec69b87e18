// The crash-safe journal (<state_dir>/journal.json, replaced atomically: write, fsync, rename,
// fsync the directory) and the audit log (<state_dir>/audit.log, one JSON object per line,
// fsynced). Engine thread only.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "controlplane/state/control_state.h"

namespace lb::controlplane {

class Journal {
 public:
  explicit Journal(std::string state_dir);
  // Creates the directory if needed and reads the journal if there is one. False + *error when
  // it exists but cannot be read: lbcontrol then refuses to start rather than forget.
  bool open(ControlState* state, std::string* error);
  // Durably records `state`. False + *error when the disk refused.
  bool save(const ControlState& state, std::string* error);
  // who: the caller's token name, or "lbcontrol" for its own decisions.
  void audit(const std::string& who, const std::string& action, const std::string& target,
             const std::string& reason, const std::string& result);
  // The last `limit` audit entries, oldest first.
  nlohmann::json readAudit(size_t limit) const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace lb::controlplane
