#include "gateway/app/wasim_child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <thread>
#include <vector>

namespace gateway::app {

std::filesystem::path ResolveWasimBinary(const std::string& setting) {
  if (setting != "auto") return setting;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "wasim";
  return self.parent_path() / "wasim";
}

std::optional<WasimChild> WasimChild::Start(const std::filesystem::path& binary,
                                            const std::filesystem::path& data_dir,
                                            std::chrono::milliseconds timeout, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    *error = "cannot create " + data_dir.string() + ": " + ec.message();
    return std::nullopt;
  }
  if (::access(binary.c_str(), X_OK) != 0) {
    *error = "wasim binary " + binary.string() + " is not executable: " + std::strerror(errno);
    return std::nullopt;
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::string bin = binary.string(), dir = data_dir.string();
  std::vector<std::string> args = {bin, "--host", "127.0.0.1", "--port", "0", "--control-port", "0",
                                   "--data-dir", dir, "--log-level", "warn"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    ::close(out[0]);
    ::close(out[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    // The child: dies with its parent; stdout into the pipe; stderr stays wagate's.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    ::dup2(out[1], STDOUT_FILENO);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  WasimChild child(pid, {});
  const std::regex chat(R"(wasim chat endpoint (\S+))"), control(R"(wasim control API (\S+))"),
      root(R"(wasim noise root public key ([0-9a-f]{64}))"), cert(R"(wasim TLS certificate (\S+))");
  std::string buffer;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto& e = child.endpoints_;
  while (e.chat_url.empty() || e.control_url.empty() || e.root_key_hex.empty() || e.cert_file.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      *error = "wasim printed no endpoints within " + std::to_string(timeout.count()) + " ms";
      ::close(out[0]);
      return std::nullopt;  // the destructor stops the child
    }
    pollfd p{out[0], POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char chunk[4096];
    ssize_t n = ::read(out[0], chunk, sizeof chunk);
    if (n <= 0) {
      *error = "wasim exited before printing its endpoints";
      ::close(out[0]);
      return std::nullopt;
    }
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      std::smatch m;
      if (std::regex_search(line, m, chat)) e.chat_url = m[1];
      if (std::regex_search(line, m, control)) {
        e.control_url = m[1];
        while (!e.control_url.empty() && e.control_url.back() == '/') e.control_url.pop_back();
      }
      if (std::regex_search(line, m, root)) e.root_key_hex = m[1];
      if (std::regex_search(line, m, cert)) e.cert_file = m[1];
    }
  }
  // Later output is not read: closing our end would make the child's writes fail with SIGPIPE,
  // so hand the pipe's reading side to a thread that drains it until the child exits.
  int fd = out[0];
  std::thread([fd] {
    char sink[4096];
    while (::read(fd, sink, sizeof sink) > 0) {
    }
    ::close(fd);
  }).detach();
  return std::optional<WasimChild>(std::move(child));
}

WasimChild::WasimChild(WasimChild&& other) noexcept
    : pid_(other.pid_), endpoints_(std::move(other.endpoints_)) {
  other.pid_ = -1;
}

WasimChild& WasimChild::operator=(WasimChild&& other) noexcept {
  if (this != &other) {
    Stop();
    pid_ = other.pid_;
    endpoints_ = std::move(other.endpoints_);
    other.pid_ = -1;
  }
  return *this;
}

WasimChild::~WasimChild() { Stop(); }

void WasimChild::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace gateway::app
