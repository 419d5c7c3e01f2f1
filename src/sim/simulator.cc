#include "sim/simulator.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "base/bytes.h"
#include "base/http/server.h"
#include "base/log.h"
#include "sim/chat_server.h"
#include "sim/control_api.h"
#include "sim/tls.h"
#include "sim/world.h"

namespace sim {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

void Fail(const std::string& line) {
  std::fprintf(stderr, "wasim: %s\n", line.c_str());
  std::fflush(stderr);
}

// The Noise trust root: kept in <data_dir>/noise-root.key (private, hex, 0600) so that clients
// configured once keep trusting this simulator; the public half is also written to
// noise-root.pub for them.
std::optional<wa::crypto::KeyPair> EnsureRootKey(const std::filesystem::path& dir,
                                                 std::string* error) {
  auto key_path = dir / "noise-root.key";
  auto pub_path = dir / "noise-root.pub";
  wa::crypto::KeyPair pair;
  std::error_code ec;
  if (std::filesystem::exists(key_path, ec)) {
    std::ifstream f(key_path);
    std::string hex;
    f >> hex;
    auto bytes = base::FromHex(hex);
    if (!bytes || bytes->size() != 32) {
      *error = key_path.string() + " is damaged: expected 64 hex digits";
      return std::nullopt;
    }
    wa::crypto::Key32 priv;
    std::copy(bytes->begin(), bytes->end(), priv.begin());
    pair = wa::crypto::KeyPairFromPrivate(priv);
  } else {
    pair = wa::crypto::GenerateKeyPair();
    std::ofstream f(key_path, std::ios::trunc);
    ::chmod(key_path.c_str(), 0600);
    if (!(f << base::ToHex(pair.private_key) << "\n")) {
      *error = "cannot write " + key_path.string();
      return std::nullopt;
    }
  }
  std::ofstream pub(pub_path, std::ios::trunc);
  if (!(pub << base::ToHex(pair.public_key) << "\n")) {
    *error = "cannot write " + pub_path.string();
    return std::nullopt;
  }
  return pair;
}

std::string Url(const char* scheme, const tcp::endpoint& ep, const char* path) {
  std::string host = ep.address().is_v6() ? "[" + ep.address().to_string() + "]"
                                          : ep.address().to_string();
  return std::string(scheme) + "://" + host + ":" + std::to_string(ep.port()) + path;
}

// host:port for media URLs: the loopback address when listening on every address (the
// certificate names 127.0.0.1 and ::1).
std::string HostPort(const tcp::endpoint& ep) {
  auto address = ep.address();
  if (address.is_unspecified()) {
    address = address.is_v6() ? asio::ip::address(asio::ip::address_v6::loopback())
                              : asio::ip::address(asio::ip::address_v4::loopback());
  }
  std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(ep.port());
}

}  // namespace

int Run(const SimulatorOptions& options) {
  base::InitLogging(options.log_level, base::LogFormat::kText);
  // One thread: the simulated network's state needs no locks, and a single core comfortably
  // routes for tens of thousands of devices.
  asio::io_context ioc(1);

  boost::system::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec) {
    Fail("--host " + options.host + ": expected an IP address");
    return 2;
  }
  auto chat_acceptor = base::http::Bind(ioc, {address, options.port});
  if (!chat_acceptor) {
    Fail("cannot listen on " + options.host + ":" + std::to_string(options.port) + ": " +
         chat_acceptor.error().message());
    return 1;
  }
  auto control_acceptor = base::http::Bind(ioc, {address, options.control_port});
  if (!control_acceptor) {
    Fail("cannot listen on " + options.host + ":" + std::to_string(options.control_port) + ": " +
         control_acceptor.error().message());
    return 1;
  }
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    Fail("cannot create data dir '" + options.data_dir.string() + "': " + ec.message());
    return 1;
  }
  std::string error;
  auto root = EnsureRootKey(options.data_dir, &error);
  auto tls_files = root ? EnsureCertificate(options.data_dir, &error) : std::nullopt;
  auto tls = tls_files ? MakeServerContext(*tls_files, &error) : std::nullopt;
  if (!tls) {
    Fail(error);
    return 1;
  }

  std::uint64_t fault_seed = options.fault_seed;
  if (fault_seed == 0) {
    auto bytes = wa::crypto::RandomBytes(8);
    for (auto b : bytes) fault_seed = fault_seed << 8 | b;
  }
  auto chat_ep = chat_acceptor->local_endpoint();
  MediaOptions media;
  media.host = options.media_host.empty() ? HostPort(chat_ep) : options.media_host;
  media.max_upload_bytes = options.media_max_upload_mb << 20;
  media.capacity_bytes = options.media_store_mb << 20;
  World world(ioc.get_executor(),
              {.noise_root = *root,
               .idle_timeout = std::chrono::milliseconds(
                   static_cast<std::int64_t>(options.idle_timeout_s * 1000)),
               .fault_seed = fault_seed,
               .media = media});
  world.StartIdleSweep();
  auto control_ep = control_acceptor->local_endpoint();
  ChatServer chat(ioc, world, *tls, std::move(*chat_acceptor));
  base::http::Server control(ioc, std::move(*control_acceptor), MakeControlRouter(world), {});

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& sec, int signo) {
    if (sec) return;
    spdlog::info("received signal {}; stopping", signo);
    chat.Stop();
    ioc.stop();
  });

  chat.Start();
  control.Start();
  std::printf("wasim chat endpoint %s (wss on the same port)\n",
              Url("ws", chat_ep, "/ws/chat").c_str());
  std::printf("wasim control API %s\n", Url("http", control_ep, "").c_str());
  std::printf("wasim noise root public key %s\n", base::ToHex(root->public_key).c_str());
  std::printf("wasim media host https://%s (the chat port)\n", media.host.c_str());
  std::printf("wasim TLS certificate %s\n", tls_files->cert.c_str());
  std::fflush(stdout);

  ioc.run();
  base::FlushLogs();
  return 0;
}

}  // namespace sim
