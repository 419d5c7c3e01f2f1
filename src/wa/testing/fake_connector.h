// An in-memory wa::client::Connector for unit tests: each Connect yields a FakeChannel whose
// other end the test plays (the server): it reads what the client sent and pushes what the
// server says, node by node, with no sockets, Noise or codec in between. Header-only; meant for
// a single-threaded io_context (the test and the client share its one thread).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "wa/binary/node.h"
#include "wa/client/errors.h"
#include "wa/client/transport.h"

namespace wa::testing {

class FakeChannel final : public client::Channel {
 public:
  explicit FakeChannel(boost::asio::any_io_executor ex)
      : wake_(ex, std::chrono::steady_clock::time_point::max()) {}

  // --- the client's side ---
  boost::asio::awaitable<base::Result<binary::Node>> Read() override {
    for (;;) {
      if (!inbox_.empty()) {
        binary::Node n = std::move(inbox_.front());
        inbox_.pop_front();
        co_return n;
      }
      if (error_) co_return error_;
      wake_.expires_at(std::chrono::steady_clock::time_point::max());
      auto [ec] = co_await wake_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      (void)ec;
    }
  }
  base::Result<void> Send(const binary::Node& node) override {
    if (error_ || closed_by_client_) return client::MakeError(client::Errc::kDisconnected);
    if (on_send) on_send(node);
    sent.push_back(node);
    return {};
  }
  void Close() override {
    closed_by_client_ = true;
    if (!error_) error_ = client::MakeError(client::Errc::kDisconnected);
    wake_.cancel();
  }
  void Abort(base::error_code reason) override {
    aborted = true;
    if (!error_) error_ = reason;
    inbox_.clear();
    wake_.cancel();
  }
  std::optional<std::chrono::steady_clock::time_point> write_started() const override {
    return stalled_since;
  }

  // --- the server's side (the test) ---
  void Push(binary::Node node) {
    inbox_.push_back(std::move(node));
    wake_.cancel();
  }
  // The server closes the stream (after a stream:error, or a network drop).
  void ServerClose() {
    if (!error_) error_ = client::MakeError(client::Errc::kDisconnected);
    wake_.cancel();
  }
  bool closed() const { return error_.failed() || closed_by_client_; }
  bool closed_by_client() const { return closed_by_client_; }

  std::vector<binary::Node> sent;                       // everything the client sent, in order
  std::function<void(const binary::Node&)> on_send;     // runs inside Send, before queuing
  std::optional<std::chrono::steady_clock::time_point> stalled_since;  // fake a stuck write
  bool aborted = false;

 private:
  std::deque<binary::Node> inbox_;
  base::error_code error_;
  bool closed_by_client_ = false;
  boost::asio::steady_timer wake_;
};

class FakeConnector final : public client::Connector {
 public:
  explicit FakeConnector(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}

  boost::asio::awaitable<base::Result<std::shared_ptr<client::Channel>>> Connect(
      client::ConnectRequest request) override {
    requests.push_back(request);
    if (!failures.empty()) {
      auto ec = failures.front();
      failures.pop_front();
      co_return ec;
    }
    auto channel = std::make_shared<FakeChannel>(ex_);
    channels.push_back(channel);
    co_return std::shared_ptr<client::Channel>(channel);
  }

  std::vector<client::ConnectRequest> requests;
  std::vector<std::shared_ptr<FakeChannel>> channels;
  std::deque<base::error_code> failures;  // the next Connects fail with these, in order

 private:
  boost::asio::any_io_executor ex_;
};

}  // namespace wa::testing
