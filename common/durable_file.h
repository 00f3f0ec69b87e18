// Crash-safe file replacement for state that must survive a SIGKILL or a power cut: the journal
// of lbcontrol and the state file of lbproxy. Any thread (touches only the files it is given).
#pragma once

#include <string>

namespace lb::common {

// Writes `text` to path.tmp, fsyncs it, renames it over `path` and fsyncs the directory, so a
// reader sees either the old or the new content, never a mix. False + *error on failure.
bool writeFileDurably(const std::string& path, const std::string& text, std::string* error);

// Appends one line and fsyncs (audit logs). False + *error on failure.
bool appendLineDurably(const std::string& path, const std::string& line, std::string* error);

// Whole file into *out; false when it cannot be opened.
bool readWholeFile(const std::string& path, std::string* out);

}  // namespace lb::common
