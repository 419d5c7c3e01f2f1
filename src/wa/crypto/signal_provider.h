// libsignal-protocol-c needs a crypto provider (CSPRNG, HMAC-SHA256, SHA-512, AES-CBC/CTR) on
// every signal_context it is handed. This is ours, over OpenSSL 3 and libsodium; wa::crypto's
// Sign uses it, and the Signal layer installs it on the contexts it creates.
#pragma once

#include <memory>

#include <signal_protocol.h>

namespace wa::crypto {

// The provider table (stateless callbacks; user_data unused). Safe to install on any number of
// contexts and to call from any thread.
const signal_crypto_provider& SignalCryptoProvider();

struct SignalContextDeleter {
  void operator()(signal_context* context) const { signal_context_destroy(context); }
};
using SignalContextPtr = std::unique_ptr<signal_context, SignalContextDeleter>;

// A new context with SignalCryptoProvider() installed and no locking functions: use it from one
// strand at a time, or install locking yourself.
SignalContextPtr NewSignalContext();

}  // namespace wa::crypto
