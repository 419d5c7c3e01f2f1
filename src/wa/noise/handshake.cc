#include "wa/noise/handshake.h"

#include <algorithm>
#include <climits>

#include "wa/noise/errors.h"
#include "wa/noise/frame.h"
#include "wa/proto/handshake.pb.h"

namespace wa::noise {
namespace {

Bytes Serialize(const google::protobuf::MessageLite& m) {
  Bytes out(m.ByteSizeLong());
  m.SerializeWithCachedSizesToArray(out.data());
  return out;
}

bool Parse(google::protobuf::MessageLite& m, ByteView bytes) {
  return bytes.size() <= INT_MAX && m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

crypto::Key32 ToKey(ByteView b) {
  crypto::Key32 k;
  std::copy_n(b.begin(), k.size(), k.begin());
  return k;
}

void StartHandshake(SymmetricState& state) { state.MixHash(kWaHeader); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Initiator

Initiator::Initiator(InitiatorOptions options)
    : options_(std::move(options)),
      ephemeral_(options_.ephemeral ? *options_.ephemeral : crypto::GenerateKeyPair()) {
  StartHandshake(state_);
}

boost::system::error_code Initiator::Fail(boost::system::error_code ec) {
  step_ = Step::kFailed;
  return ec;
}

base::Result<Bytes> Initiator::ClientHello() {
  if (step_ != Step::kHello) return Fail(MakeError(Errc::kWrongState));
  state_.MixHash(ephemeral_.public_key);
  proto::HandshakeMessage msg;
  msg.mutable_client_hello()->set_ephemeral(ephemeral_.public_key.data(),
                                            ephemeral_.public_key.size());
  step_ = Step::kServerHello;
  return Serialize(msg);
}

base::Result<ServerHelloResult> Initiator::ReadServerHello(ByteView handshake_message) {
  if (step_ != Step::kServerHello) return Fail(MakeError(Errc::kWrongState));
  proto::HandshakeMessage msg;
  if (!Parse(msg, handshake_message) || !msg.has_server_hello()) {
    return Fail(MakeError(Errc::kMalformedHandshake));
  }
  const auto& hello = msg.server_hello();
  if (!hello.has_ephemeral() || !hello.has_static_() || !hello.has_payload()) {
    return Fail(MakeError(Errc::kMalformedHandshake));
  }
  if (hello.ephemeral().size() != 32) return Fail(MakeError(Errc::kBadKeyLength));
  server_ephemeral_ = ToKey(base::AsBytes(hello.ephemeral()));

  state_.MixHash(server_ephemeral_);
  if (auto r = state_.MixDh(ephemeral_.private_key, server_ephemeral_); !r) {  // ee
    return Fail(r.error());
  }
  auto server_static = state_.DecryptAndHash(base::AsBytes(hello.static_()));
  if (!server_static) return Fail(server_static.error());
  if (server_static->size() != 32) return Fail(MakeError(Errc::kBadKeyLength));
  if (auto r = state_.MixDh(ephemeral_.private_key, *server_static); !r) {  // es
    return Fail(r.error());
  }
  auto chain = state_.DecryptAndHash(base::AsBytes(hello.payload()));
  if (!chain) return Fail(chain.error());
  auto verified =
      VerifyCertChain(*chain, *server_static, options_.trust_root, options_.now_unix);
  if (!verified) return Fail(verified.error());

  step_ = Step::kFinish;
  return ServerHelloResult{ToKey(*server_static), *verified};
}

base::Result<Bytes> Initiator::ClientFinish(ByteView client_payload) {
  if (step_ != Step::kFinish) return Fail(MakeError(Errc::kWrongState));
  auto encrypted_static = state_.EncryptAndHash(options_.static_key.public_key);
  if (!encrypted_static) return Fail(encrypted_static.error());
  if (auto r = state_.MixDh(options_.static_key.private_key, server_ephemeral_); !r) {  // se
    return Fail(r.error());
  }
  auto encrypted_payload = state_.EncryptAndHash(client_payload);
  if (!encrypted_payload) return Fail(encrypted_payload.error());

  proto::HandshakeMessage msg;
  auto* finish = msg.mutable_client_finish();
  finish->set_static_(encrypted_static->data(), encrypted_static->size());
  finish->set_payload(encrypted_payload->data(), encrypted_payload->size());
  step_ = Step::kSplit;
  return Serialize(msg);
}

base::Result<TransportCiphers> Initiator::Split() {
  if (step_ != Step::kSplit) return Fail(MakeError(Errc::kWrongState));
  const auto [initiator_to_responder, responder_to_initiator] = state_.Split();
  step_ = Step::kDone;
  return TransportCiphers{CipherState(initiator_to_responder),
                          CipherState(responder_to_initiator)};
}

// ---------------------------------------------------------------------------------------------
// Responder

Responder::Responder(ResponderOptions options)
    : options_(std::move(options)),
      ephemeral_(options_.ephemeral ? *options_.ephemeral : crypto::GenerateKeyPair()) {
  StartHandshake(state_);
}

boost::system::error_code Responder::Fail(boost::system::error_code ec) {
  step_ = Step::kFailed;
  return ec;
}

base::Result<Bytes> Responder::ReadClientHello(ByteView handshake_message) {
  if (step_ != Step::kHello) return Fail(MakeError(Errc::kWrongState));
  proto::HandshakeMessage msg;
  if (!Parse(msg, handshake_message) || !msg.has_client_hello() ||
      !msg.client_hello().has_ephemeral()) {
    return Fail(MakeError(Errc::kMalformedHandshake));
  }
  const ByteView client_ephemeral = base::AsBytes(msg.client_hello().ephemeral());
  if (client_ephemeral.size() != 32) return Fail(MakeError(Errc::kBadKeyLength));

  state_.MixHash(client_ephemeral);
  state_.MixHash(ephemeral_.public_key);
  if (auto r = state_.MixDh(ephemeral_.private_key, client_ephemeral); !r) {  // ee
    return Fail(r.error());
  }
  auto encrypted_static = state_.EncryptAndHash(options_.static_key.public_key);
  if (!encrypted_static) return Fail(encrypted_static.error());
  if (auto r = state_.MixDh(options_.static_key.private_key, client_ephemeral); !r) {  // es
    return Fail(r.error());
  }
  auto encrypted_chain = state_.EncryptAndHash(options_.cert_chain);
  if (!encrypted_chain) return Fail(encrypted_chain.error());

  proto::HandshakeMessage reply;
  auto* hello = reply.mutable_server_hello();
  hello->set_ephemeral(ephemeral_.public_key.data(), ephemeral_.public_key.size());
  hello->set_static_(encrypted_static->data(), encrypted_static->size());
  hello->set_payload(encrypted_chain->data(), encrypted_chain->size());
  step_ = Step::kFinish;
  return Serialize(reply);
}

base::Result<ClientFinishResult> Responder::ReadClientFinish(ByteView handshake_message) {
  if (step_ != Step::kFinish) return Fail(MakeError(Errc::kWrongState));
  proto::HandshakeMessage msg;
  if (!Parse(msg, handshake_message) || !msg.has_client_finish() ||
      !msg.client_finish().has_static_() || !msg.client_finish().has_payload()) {
    return Fail(MakeError(Errc::kMalformedHandshake));
  }
  const auto& finish = msg.client_finish();
  auto client_static = state_.DecryptAndHash(base::AsBytes(finish.static_()));
  if (!client_static) return Fail(client_static.error());
  if (client_static->size() != 32) return Fail(MakeError(Errc::kBadKeyLength));
  if (auto r = state_.MixDh(ephemeral_.private_key, *client_static); !r) {  // se
    return Fail(r.error());
  }
  auto payload = state_.DecryptAndHash(base::AsBytes(finish.payload()));
  if (!payload) return Fail(payload.error());

  step_ = Step::kSplit;
  return ClientFinishResult{ToKey(*client_static), std::move(*payload)};
}

base::Result<TransportCiphers> Responder::Split() {
  if (step_ != Step::kSplit) return Fail(MakeError(Errc::kWrongState));
  const auto [initiator_to_responder, responder_to_initiator] = state_.Split();
  step_ = Step::kDone;
  return TransportCiphers{CipherState(responder_to_initiator),
                          CipherState(initiator_to_responder)};
}

}  // namespace wa::noise
