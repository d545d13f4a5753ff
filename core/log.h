#pragma once
// Plain stderr logging with a level threshold. Secrets never reach it: callers pass redacted text.
#include <fmt/core.h>

#include <string>
#include <string_view>

namespace fleet::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

// Text from outside (a topic off the broker) made safe for a log line: control bytes and every byte
// above 0x7E as \xNN, so binary topics cannot move the terminal's cursor or break the line.
std::string safe(std::string_view text);

Level threshold();
void set_threshold(Level level);
void write(Level level, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (threshold() <= Level::Debug) write(Level::Debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (threshold() <= Level::Info) write(Level::Info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (threshold() <= Level::Warn) write(Level::Warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (threshold() <= Level::Error) write(Level::Error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace fleet::log
