#include "gateway/events/bus.h"

#include <gtest/gtest.h>

namespace gateway::events {
namespace {

store::EventRow At(std::int64_t seq) { return store::EventRow{.seq = seq, .type = kMessageStatus}; }

TEST(BusTest, EveryListenerSeesEveryEventInOrderUntilItUnsubscribes) {
  Bus bus;
  std::vector<std::int64_t> a, b;
  int ta = bus.Subscribe([&](const store::EventRow& e) { a.push_back(e.seq); });
  bus.Subscribe([&](const store::EventRow& e) { b.push_back(e.seq); });
  bus.Publish({At(1), At(2)});
  bus.Unsubscribe(ta);
  bus.Publish({At(3)});
  EXPECT_EQ(a, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(b, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(bus.last_seq(), 3);
}

TEST(BusTest, AListenerMayUnsubscribeItselfWhileCalled) {
  Bus bus;
  int calls = 0;
  int token = 0;
  token = bus.Subscribe([&](const store::EventRow&) {
    ++calls;
    bus.Unsubscribe(token);
  });
  bus.Publish({At(1)});
  bus.Publish({At(2)});
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace gateway::events
