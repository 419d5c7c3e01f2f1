#include "sim/connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "sim/world.h"
#include "wa/binary/decoder.h"
#include "wa/binary/encoder.h"
#include "wa/binary/printer.h"

namespace sim {

namespace asio = boost::asio;

Connection::Connection(World& world, asio::any_io_executor ex, std::uint64_t id, std::string peer)
    : world_(world),
      id_(id),
      peer_(std::move(peer)),
      reader_({.expect_intro = true}),
      wake_(ex, std::chrono::steady_clock::time_point::max()) {
  responder_.emplace(world_.ResponderOptions());
  last_frame_at = std::chrono::steady_clock::now();
}

bool Connection::OnBytes(base::ByteView chunk) {
  if (close_requested_) return true;  // draining: ignore what still arrives
  if (auto fed = reader_.Feed(chunk); !fed) {
    spdlog::info("conn {} ({}): bad framing: {}", id_, peer_, fed.error().Describe());
    return false;
  }
  for (;;) {
    auto next = reader_.Next();
    if (!next) {
      spdlog::info("conn {} ({}): bad framing: {}", id_, peer_, next.error().Describe());
      return false;
    }
    if (!*next) return true;
    last_frame_at = std::chrono::steady_clock::now();
    if (!OnFrame(std::move(**next))) return false;
    if (close_requested_) return true;
  }
}

bool Connection::OnFrame(base::Bytes frame) {
  world_.stats().frames_in++;
  if (state_ == State::kHandshake) {
    if (!server_hello_sent_) {
      auto hello = responder_->ReadClientHello(frame);
      if (!hello) {
        spdlog::info("conn {}: bad client hello: {}", id_, hello.error().message());
        return false;
      }
      server_hello_sent_ = true;
      Push(*hello);
      return true;
    }
    auto finish = responder_->ReadClientFinish(frame);
    if (!finish) {
      spdlog::info("conn {}: bad client finish: {}", id_, finish.error().message());
      return false;
    }
    auto ciphers = responder_->Split();
    if (!ciphers) return false;
    ciphers_.emplace(std::move(*ciphers));
    client_static_ = finish->client_static;
    if (!payload_.ParseFromArray(finish->client_payload.data(),
                                 static_cast<int>(finish->client_payload.size()))) {
      spdlog::info("conn {}: ClientPayload does not parse", id_);
      return false;
    }
    reader_.SetMaxFrameSize(wa::noise::kMaxFrameSize);
    responder_.reset();
    world_.OnHandshake(*this);
    return true;
  }
  auto plain = ciphers_->recv.Decrypt(frame);
  if (!plain) {
    spdlog::info("conn {}: frame does not decrypt: {}", id_, plain.error().message());
    return false;
  }
  auto node = wa::binary::Decode(*plain);
  if (!node) {
    // The real service ends the stream on an undecodable stanza.
    spdlog::info("conn {}: undecodable stanza: {}", id_, node.error().Message());
    SendAndClose(wa::binary::Node("stream:error", {{"code", "400"}}));
    return true;
  }
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("conn {} <- {}", id_, wa::binary::ToXml(*node));
  }
  world_.OnNode(*this, *node);
  return true;
}

void Connection::Push(base::Bytes payload, std::chrono::milliseconds delay) {
  auto framed = writer_.Encode(payload);
  if (!framed) {
    spdlog::error("conn {}: outgoing frame too large ({} bytes)", id_, payload.size());
    Abort();
    return;
  }
  outgoing_.push_back({std::move(*framed), delay});
  world_.stats().frames_out++;
  wake_.cancel();
}

void Connection::Send(const wa::binary::Node& node) { SendStanza(node, true); }

void Connection::SendStanza(const wa::binary::Node& node, bool may_fault) {
  if (close_requested_ || !ciphers_) return;
  Faults::Fate fate;
  if (may_fault) fate = world_.faults().NextStanzaToClient();
  if (fate.lose) {
    // Lost before encryption: the client's receive counter never sees a gap.
    world_.stats().frames_lost++;
    spdlog::debug("conn {}: fault: lost <{}>", id_, node.tag);
    return;
  }
  if (fate.delay.count() > 0) world_.stats().frames_delayed++;
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("conn {} -> {}", id_, wa::binary::ToXml(node));
  }
  auto sealed = ciphers_->send.Encrypt(wa::binary::Encode(node));
  if (!sealed) {
    Abort();
    return;
  }
  Push(std::move(*sealed), fate.delay);
}

void Connection::SendAndClose(const wa::binary::Node& node) {
  // The final stanza is never lost: the close that follows is the fault a test asked for.
  SendStanza(node, false);
  state_ = State::kClosing;
  close_requested_ = true;
  wake_.cancel();
}

void Connection::Abort() {
  outgoing_.clear();
  state_ = State::kClosing;
  close_requested_ = true;
  wake_.cancel();
}

void Connection::Drop() {
  drop_requested_ = true;
  Abort();
}

asio::awaitable<void> Connection::WaitForOutput() {
  if (!outgoing_.empty() || close_requested_) co_return;
  wake_.expires_at(std::chrono::steady_clock::time_point::max());
  auto [ec] = co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
  (void)ec;
}

}  // namespace sim
