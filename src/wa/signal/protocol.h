// The Signal protocol engine of one owner (one wa::Client's linked device, or one simulated
// phone): X3DH session setup from prekey bundles, double-ratchet encrypt/decrypt of pkmsg/msg,
// and sender-key (group) distribution and skmsg encrypt/decrypt — WhatsApp's use of libsignal v3
// (02-messaging.md §1.7, §3.2-3.4, §4.1-4.2, §5.1) over libsignal-protocol-c.
//
// Threading: not thread-safe by design; it lives on its owner's strand. Distinct Protocols may
// run on distinct threads at once (the libsignal context they share is immutable and the crypto
// provider is stateless).
//
// Memory: one Protocol holds a pointer to its Store and one small libsignal store context
// (a table of callbacks); the libsignal context and crypto provider are shared process-wide, and
// sessions live in the Store, so thousands of owners per process are cheap (memory_test.cc
// measures ~290 bytes per Protocol and ~1.7 KB per owner with a MemoryStore and one session).
//
// libsignal-protocol-c reports a bad MAC, a message too far in the future and (for sender keys)
// an unknown key id or bad signature all as SG_ERR_INVALID_MESSAGE; the distinct Errc values are
// recovered from the library's log line for the failing state (pinned by the tests).
//
// Plaintext padding and protobufs are the message layer's job, not this one's.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/signal/address.h"
#include "wa/signal/errors.h"
#include "wa/signal/keys.h"
#include "wa/signal/store.h"

struct signal_protocol_store_context;

namespace wa::signal {

// The three kinds of <enc>: `type` attribute "pkmsg", "msg" and "skmsg".
enum class MessageType { kPkMsg, kMsg, kSkMsg };
std::string_view EncType(MessageType type);
std::optional<MessageType> ParseEncType(std::string_view type);

// What happened to the peer's identity key during a call.
enum class IdentityChange {
  kUnchanged,  // the same key as stored (or the call did not involve the identity)
  kNew,        // first key seen for that address (trust on first use)
  kChanged,    // differs from the stored key: the caller shows a "security code changed" notice
};

struct EncryptedMessage {
  MessageType type;  // kPkMsg until the peer's first reply has been decrypted, then kMsg
  Bytes ciphertext;  // the <enc> content
};

struct DecryptedMessage {
  Bytes plaintext;
  // The one-time prekey this pkmsg consumed (removed from the Store): the caller may top up.
  // nullopt for msg, for a pkmsg without a one-time prekey, and for later pkmsgs of a session
  // that already exists.
  std::optional<std::uint32_t> consumed_pre_key_id;
  IdentityChange identity = IdentityChange::kUnchanged;
};

// Runs after a message decrypted and authenticated, before any ratchet state is written. If it
// returns an error, nothing is committed and the call fails with that error, so the message
// decrypts again on redelivery. Use it to persist the plaintext first ("nothing lost"). It must
// not call back into the same Protocol (others are fine).
using BeforeCommit = std::function<base::error_code(ByteView plaintext)>;

class Protocol {
 public:
  // `store` must outlive the Protocol.
  explicit Protocol(Store& store);
  ~Protocol();
  Protocol(const Protocol&) = delete;
  Protocol& operator=(const Protocol&) = delete;

  Store& store() { return store_; }

  // --- 1:1 sessions ---

  // X3DH as initiator from a peer's bundle. Replaces any current session with `address` (the old
  // state is archived so late messages for it still decrypt). Errors: kInvalidKey (bad
  // signed-prekey signature), kUntrustedIdentity, store errors.
  base::Result<IdentityChange> ProcessPreKeyBundle(const Address& address,
                                                   const PreKeyBundle& bundle);

  // Errors: kNoSession, store errors.
  base::Result<EncryptedMessage> Encrypt(const Address& address, ByteView plaintext);

  // `type` is kPkMsg or kMsg (kSkMsg is kInvalidArgument: use GroupDecrypt). A pkmsg builds the
  // session (consuming our one-time prekey) if it is new; the sender's identity key it carries is
  // saved only once the message authenticated. Errors: kNoSession, kInvalidMessage,
  // kInvalidMac, kDuplicateMessage, kTooFarInFuture, kInvalidKeyId, kUntrustedIdentity,
  // kLegacyVersion, kUnknownVersion, BeforeCommit's and the store's errors.
  base::Result<DecryptedMessage> Decrypt(const Address& address, MessageType type,
                                         ByteView ciphertext,
                                         const BeforeCommit& before_commit = {});

  base::Result<bool> HasSession(const Address& address);
  base::Result<void> DeleteSession(const Address& address);
  // The registration id the current session was built with (retry receipts compare it).
  base::Result<std::uint32_t> RemoteRegistrationId(const Address& address);

  // --- Sender keys (groups) ---

  // The SenderKeyDistributionMessage for our own sender key in `group_id`, creating the key on
  // first use (random 31-bit key id, iteration 0). Calling it again returns the current state
  // (same key id, current iteration) without rotating.
  base::Result<Bytes> CreateSenderKeyDistribution(std::string_view group_id, const Address& self);
  // Installs a group member's sender key (up to 5 key ids are kept per member).
  base::Result<void> ProcessSenderKeyDistribution(std::string_view group_id,
                                                  const Address& sender, ByteView skdm);
  // The skmsg for our own sender key; kNoSession until CreateSenderKeyDistribution ran.
  base::Result<Bytes> GroupEncrypt(std::string_view group_id, const Address& self,
                                   ByteView plaintext);
  // Errors: kNoSession (no key from that member), kInvalidKeyId (key id not held),
  // kInvalidMac (bad signature), kDuplicateMessage, kTooFarInFuture, kInvalidMessage, ...
  base::Result<Bytes> GroupDecrypt(std::string_view group_id, const Address& sender,
                                   ByteView skmsg, const BeforeCommit& before_commit = {});
  // Forgets a sender key; deleting our own makes the next CreateSenderKeyDistribution rotate.
  base::Result<void> DeleteSenderKey(std::string_view group_id, const Address& sender);

  struct Call;  // per-call state shared with the store callbacks (protocol.cc)

 private:
  Store& store_;
  signal_protocol_store_context* store_context_ = nullptr;
  Call* call_ = nullptr;  // non-null during a call
};

}  // namespace wa::signal
