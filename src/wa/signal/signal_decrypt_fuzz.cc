// Fuzzes the decrypt paths (pkmsg, msg, skmsg, SKDM) with hostile bytes, either raw or XORed
// over a genuine message of that kind. Input layout: byte 0 picks the kind (bits 0-1: pkmsg,
// msg, skmsg, skdm) and the mode (bit 2: overlay on a genuine message); the rest is the payload.
// Checks: no crash, leak or sanitizer report; every failure is a wa.signal error (a store
// failure cannot happen with MemoryStore); an unmodified genuine message decrypts to what was
// sent, and still does after a damaged copy of it was refused; the real sessions keep working
// after every hostile input.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>

#include "wa/signal/errors.h"
#include "wa/signal/memory_store.h"
#include "wa/signal/protocol.h"

namespace {

namespace signal = wa::signal;
using base::Bytes;
using base::ByteView;

void Check(bool ok) {
  if (!ok) std::abort();
}

constexpr std::string_view kGroup = "1@g.us";

struct Device {
  explicit Device(std::string user)
      : address(std::move(user), 0), store(signal::MemoryStore::Generate()), protocol(store) {
    signed_pre_key = signal::GenerateSignedPreKey(*store.GetIdentityKeyPair(), 1);
    Check(store.StoreSignedPreKey(signed_pre_key).has_value());
  }
  signal::PreKeyBundle Bundle() {
    // A fresh one-time prekey per bundle.
    const signal::PreKey key = signal::GeneratePreKeys(next_pre_key, 1)[0];
    next_pre_key = signal::NextPreKeyId(next_pre_key);
    Check(store.StorePreKey(key).has_value());
    signal::PreKeyBundle b;
    b.registration_id = *store.GetRegistrationId();
    b.pre_key = signal::PreKeyPublic{key.id, key.key_pair.public_key};
    b.signed_pre_key_id = signed_pre_key.id;
    b.signed_pre_key = signed_pre_key.key_pair.public_key;
    b.signed_pre_key_signature = signed_pre_key.signature;
    b.identity_key = store.GetIdentityKeyPair()->public_key;
    return b;
  }
  signal::Address address;
  signal::MemoryStore store;
  signal::Protocol protocol;
  signal::SignedPreKey signed_pre_key;
  std::uint32_t next_pre_key = 1;
};

struct World {
  World() : a("1"), b("2") {
    // An established 1:1 session (both sides on msg) and a sender key each way.
    Check(a.protocol.ProcessPreKeyBundle(b.address, b.Bundle()).has_value());
    auto m = a.protocol.Encrypt(b.address, base::ToBytes("x"));
    Check(b.protocol.Decrypt(a.address, m->type, m->ciphertext).has_value());
    auto r = b.protocol.Encrypt(a.address, base::ToBytes("y"));
    Check(a.protocol.Decrypt(b.address, r->type, r->ciphertext).has_value());
    auto skdm = a.protocol.CreateSenderKeyDistribution(kGroup, a.address);
    Check(b.protocol.ProcessSenderKeyDistribution(kGroup, a.address, *skdm).has_value());
  }
  Device a, b;
};

World& TheWorld() {
  static World* world = new World();
  return *world;
}

void Overlay(Bytes& genuine, ByteView noise) {
  for (std::size_t i = 0; i < noise.size() && i < genuine.size(); ++i) genuine[i] ^= noise[i];
  if (noise.size() > genuine.size()) {
    genuine.insert(genuine.end(), noise.begin() + static_cast<std::ptrdiff_t>(genuine.size()),
                   noise.end());
  }
}

bool IsSignalError(const boost::system::error_code& ec) {
  return &ec.category() == &signal::Category();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  World& w = TheWorld();
  const int kind = data[0] & 3;
  const bool overlay = (data[0] & 4) != 0;
  const ByteView noise(data + 1, size - 1);
  const Bytes sent = base::ToBytes("genuine");
  Bytes input(noise.begin(), noise.end());

  if (kind == 0) {  // pkmsg from a fresh initiator
    Device c("3");
    std::optional<std::uint32_t> pre_key;
    if (overlay) {
      const signal::PreKeyBundle bundle = w.b.Bundle();
      pre_key = bundle.pre_key->id;
      Check(c.protocol.ProcessPreKeyBundle(w.b.address, bundle).has_value());
      input = c.protocol.Encrypt(w.b.address, sent)->ciphertext;
      Overlay(input, noise);
    }
    auto got = w.b.protocol.Decrypt(c.address, signal::MessageType::kPkMsg, input);
    if (!got) Check(IsSignalError(got.error()));
    if (overlay && noise.empty()) Check(got.has_value() && got->plaintext == sent);
    // Keep b's state bounded across runs.
    if (pre_key) Check(w.b.store.RemovePreKey(*pre_key).has_value());
    Check(w.b.protocol.DeleteSession(c.address).has_value());
  } else if (kind == 1) {  // msg on the established session
    Bytes genuine;
    if (overlay) {
      genuine = w.a.protocol.Encrypt(w.b.address, sent)->ciphertext;
      input = genuine;
      Overlay(input, noise);
    }
    auto got = w.b.protocol.Decrypt(w.a.address, signal::MessageType::kMsg, input);
    if (!got) Check(IsSignalError(got.error()));
    if (overlay && noise.empty()) Check(got.has_value() && got->plaintext == sent);
    // The genuine message still decrypts after a damaged copy was refused (and delivering it
    // keeps b from piling up skipped keys across runs).
    if (overlay && !got) {
      auto real = w.b.protocol.Decrypt(w.a.address, signal::MessageType::kMsg, genuine);
      Check(real.has_value() && real->plaintext == sent);
    }
  } else if (kind == 2) {  // skmsg
    Bytes genuine;
    if (overlay) {
      genuine = *w.a.protocol.GroupEncrypt(kGroup, w.a.address, sent);
      input = genuine;
      Overlay(input, noise);
    }
    auto got = w.b.protocol.GroupDecrypt(kGroup, w.a.address, input);
    if (!got) Check(IsSignalError(got.error()));
    if (overlay && noise.empty()) Check(got.has_value() && *got == sent);
    if (overlay && !got) {
      auto real = w.b.protocol.GroupDecrypt(kGroup, w.a.address, genuine);
      Check(real.has_value() && *real == sent);
    }
  } else {  // SKDM, processed under a throwaway sender address
    const signal::Address other("4", static_cast<std::uint32_t>(size));
    if (overlay) {
      Device d("4");
      input = *d.protocol.CreateSenderKeyDistribution(kGroup, d.address);
      Overlay(input, noise);
    }
    auto processed = w.b.protocol.ProcessSenderKeyDistribution(kGroup, other, input);
    if (!processed) Check(IsSignalError(processed.error()));
    Check(w.b.protocol.DeleteSenderKey(kGroup, other).has_value());
  }

  // The real sessions are unharmed.
  auto m = w.a.protocol.Encrypt(w.b.address, sent);
  auto got = w.b.protocol.Decrypt(w.a.address, m->type, m->ciphertext);
  Check(got.has_value() && got->plaintext == sent);
  auto g = w.a.protocol.GroupEncrypt(kGroup, w.a.address, sent);
  auto gg = w.b.protocol.GroupDecrypt(kGroup, w.a.address, *g);
  Check(gg.has_value() && *gg == sent);
  return 0;
}
