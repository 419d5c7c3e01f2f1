// The simulated WhatsApp network's state and server behaviour (connection layer,
// shared/protocol/01-connection.md §9): phones (primary devices) and their linked companions,
// QR refs, pairing, login, keepalive, the post-login iqs, offline queues and stream errors.
// Runs on wasim's single thread; the chat listener and the control API call into it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/binary/node.h"
#include "wa/crypto/crypto.h"
#include "wa/noise/handshake.h"

namespace sim {

class Connection;

struct Stats {
  std::uint64_t connections_total = 0;
  std::uint64_t connections_open = 0;
  std::uint64_t handshakes = 0;
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t stanzas_routed = 0;
  std::uint64_t pairings = 0;
  std::uint64_t logins = 0;
  std::uint64_t login_failures = 0;
};

struct WorldOptions {
  wa::crypto::KeyPair noise_root;   // signs the intermediate certificate
  int refs_per_connection = 6;
  std::chrono::seconds first_ref_ttl{60};
  std::chrono::seconds next_ref_ttl{20};
  std::chrono::seconds pair_sign_timeout{20};
};

struct SignedPreKey {
  std::uint32_t id = 0;
  base::Bytes public_key;  // 32
  base::Bytes signature;   // 64
};

// A companion (linked device) of a phone.
struct Companion {
  std::uint16_t device_id = 0;
  wa::crypto::Key32 noise_key{};  // the companion's Noise static key, fixed at registration
  base::Bytes identity_key;       // 32, no 0x05
  std::uint32_t registration_id = 0;
  SignedPreKey signed_prekey;
  std::map<std::uint32_t, base::Bytes> prekeys;  // one-time prekeys by id
  std::string platform;           // DeviceProps.os + platform type, for the devices list
  std::uint32_t key_index = 0;
  base::Bytes adv_identity;       // ADVSignedDeviceIdentity with the device signature
  std::int64_t linked_at = 0;
  std::weak_ptr<Connection> connection;
  std::deque<wa::binary::Node> offline;  // stanzas waiting for the next login
};

struct Phone {
  std::string number;
  std::string name;
  std::string lid;                  // 15-digit LID user
  wa::crypto::KeyPair identity;     // the account's identity key (signs ADV identities)
  std::uint32_t adv_raw_id = 0;
  std::uint32_t next_key_index = 1;
  std::uint16_t next_device_id = 1;
  std::map<std::uint16_t, Companion> companions;
};

// Why a control-API operation failed: an HTTP status and a stable problem code.
struct ControlError {
  int status;
  std::string code;
  std::string detail;
};
template <class T>
using ControlResult = base::Result<T, ControlError>;

class World {
 public:
  World(boost::asio::any_io_executor ex, WorldOptions options);
  ~World();

  // For each new connection: the server's static key and certificate chain, fresh ephemeral.
  wa::noise::ResponderOptions ResponderOptions() const;
  const wa::crypto::KeyPair& noise_root() const { return options_.noise_root; }

  void OnOpened(const std::shared_ptr<Connection>& conn);
  void OnHandshake(Connection& conn);
  void OnNode(Connection& conn, const wa::binary::Node& node);
  void OnClosed(Connection& conn);

  // Control API.
  struct PhoneInfo {
    std::string phone, jid, lid, name;
  };
  ControlResult<PhoneInfo> CreatePhone(const std::string& number, const std::string& name);
  ControlResult<PhoneInfo> GetPhone(const std::string& number) const;
  // Links the companion that shows `qr`; completes when the companion has signed (or failed).
  boost::asio::awaitable<ControlResult<std::string>> Scan(std::string number, std::string qr);
  struct DeviceInfo {
    std::string jid, lid, platform;
    std::int64_t linked_at;
    bool connected;
  };
  ControlResult<std::vector<DeviceInfo>> Devices(const std::string& number) const;
  ControlResult<void> Unlink(const std::string& number, const std::string& device_jid);

  Stats& stats() { return stats_; }
  std::size_t device_count() const;
  std::size_t offline_queue_depth() const;

 private:
  struct PendingPair;

  void SendPairDevice(Connection& conn);
  void HandleIq(Connection& conn, const wa::binary::Node& iq);
  void HandlePairDeviceSign(Connection& conn, const wa::binary::Node& iq);
  void Login(Connection& conn);
  void RemoveCompanion(Phone& phone, std::uint16_t device_id, bool notify);
  void ReplyResult(Connection& conn, const wa::binary::Node& iq,
                   wa::binary::Node::Children children = {});
  void ReplyError(Connection& conn, const wa::binary::Node& iq, int code, std::string_view text);
  Phone* FindPhone(const std::string& number);
  std::shared_ptr<Connection> FindConnection(std::uint64_t id) const;
  std::string NextIqId();
  static std::int64_t Now();

  boost::asio::any_io_executor ex_;
  WorldOptions options_;
  wa::crypto::KeyPair server_static_;
  base::Bytes cert_chain_;
  std::map<std::string, Phone> phones_;           // by phone number
  std::map<std::string, std::string> lid_to_phone_;
  std::map<std::uint64_t, std::weak_ptr<Connection>> connections_;
  struct RefInfo {
    std::uint64_t connection_id;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, RefInfo> refs_;
  std::map<std::uint64_t, std::shared_ptr<PendingPair>> pending_pairs_;  // by connection id
  std::uint64_t next_iq_ = 1;
  Stats stats_;
};

}  // namespace sim
