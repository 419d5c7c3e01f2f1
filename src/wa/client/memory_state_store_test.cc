#include "wa/client/memory_state_store.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace wa::client {
namespace {

TEST(MemoryStateStoreTest, ViewsShareTheCredentialsAndTheAsyncSideOnlyCounts) {
  Credentials creds = Credentials::New();
  MemoryStateStore state(creds);
  auto identity = state.signal_store().GetIdentityKeyPair();
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->public_key, creds.identity_key.public_key);
  EXPECT_EQ(*state.signal_store().GetRegistrationId(), creds.registration_id);
  auto loaded = state.device_store().Load();
  ASSERT_TRUE(loaded && loaded->has_value());
  EXPECT_EQ(**loaded, creds);

  signal::Address peer("123", 1);
  ASSERT_TRUE(state.signal_store().StoreSession(peer, base::Bytes{1, 2, 3}));
  boost::asio::io_context ioc;
  bool done = false;
  boost::asio::co_spawn(
      ioc,
      [&]() -> boost::asio::awaitable<void> {
        PrefetchRequest request;
        request.addresses.push_back(peer);
        EXPECT_TRUE(co_await state.Prefetch(request));
        EXPECT_TRUE(co_await state.Commit());
        done = true;
      },
      boost::asio::detached);
  ioc.run();
  EXPECT_TRUE(done);
  EXPECT_EQ(state.prefetches(), 1u);
  EXPECT_EQ(state.commits(), 1u);
  EXPECT_EQ(state.memory_signal_store().session_count(), 1u);
}

}  // namespace
}  // namespace wa::client
