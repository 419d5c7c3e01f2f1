// A wasim that wagate starts itself as its sandbox (`sandbox.wasim`), so one command gives a
// newcomer the whole journey with no phone: wagate runs the simulator as a child process on free
// loopback ports, reads the endpoints it prints, and stops it on shutdown. The child gets
// SIGTERM if wagate dies first (PR_SET_PDEATHSIG), so no simulator outlives its gateway.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace gateway::app {

struct WasimEndpoints {
  std::string chat_url;
  std::string control_url;
  std::string root_key_hex;
  std::string cert_file;
};

class WasimChild {
 public:
  // Starts `binary` with its data under `data_dir` and waits up to `timeout` for its endpoints;
  // nullopt with `*error` set when it cannot start or prints no endpoints in time.
  static std::optional<WasimChild> Start(const std::filesystem::path& binary,
                                         const std::filesystem::path& data_dir,
                                         std::chrono::milliseconds timeout, std::string* error);
  WasimChild(WasimChild&& other) noexcept;
  WasimChild& operator=(WasimChild&& other) noexcept;
  WasimChild(const WasimChild&) = delete;
  ~WasimChild();

  const WasimEndpoints& endpoints() const { return endpoints_; }
  pid_t pid() const { return pid_; }
  // SIGTERM, then SIGKILL after 5 s; idempotent.
  void Stop();

 private:
  WasimChild(pid_t pid, WasimEndpoints endpoints) : pid_(pid), endpoints_(std::move(endpoints)) {}
  pid_t pid_ = -1;
  WasimEndpoints endpoints_;
};

// "auto": the wasim beside the running wagate binary; otherwise the given path.
std::filesystem::path ResolveWasimBinary(const std::string& setting);

}  // namespace gateway::app
