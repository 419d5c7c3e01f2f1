#include "sim/faults.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sim {
namespace {

using namespace std::chrono_literals;

base::Result<FaultRequest, std::string> Parse(std::string_view text) {
  return ParseFaultRequest(boost::json::parse(text).as_object());
}

TEST(ParseFaultRequest, ReadsEveryField) {
  auto r = Parse(R"({"seed": 42, "drop_connections": {"phone": "15550001111", "device": 2},
                     "stream_error": {"phone": "15550001111", "code": 503, "conflict": "replaced"},
                     "frame_loss_probability": 0.25, "frame_delay_ms": 300,
                     "frame_delay_probability": 0.5, "refuse_connections_for_s": 1.5})");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->seed, 42u);
  ASSERT_TRUE(r->drop_connections);
  EXPECT_FALSE(r->drop_connections->all);
  EXPECT_EQ(r->drop_connections->phone, "15550001111");
  EXPECT_EQ(r->drop_connections->device, 2);
  ASSERT_TRUE(r->stream_error);
  EXPECT_EQ(r->stream_error->target.phone, "15550001111");
  EXPECT_FALSE(r->stream_error->target.device);
  EXPECT_EQ(r->stream_error->code, 503);
  EXPECT_EQ(r->stream_error->conflict, "replaced");
  EXPECT_EQ(r->frame_loss_probability, 0.25);
  EXPECT_EQ(r->frame_delay, 300ms);
  EXPECT_EQ(r->frame_delay_probability, 0.5);
  EXPECT_EQ(r->refuse_connections_for, 1500ms);
}

TEST(ParseFaultRequest, CorruptNextMessageNeedsPhoneAndDevice) {
  auto r = Parse(R"({"corrupt_next_message": {"phone": "15550001111", "device": 0}})");
  ASSERT_TRUE(r) << r.error();
  ASSERT_TRUE(r->corrupt_next_message);
  EXPECT_EQ(r->corrupt_next_message->phone, "15550001111");
  EXPECT_EQ(r->corrupt_next_message->device, 0);
  for (const char* bad : {R"({"corrupt_next_message": {"phone": "15550001111"}})",
                          R"({"corrupt_next_message": {"device": 1}})",
                          R"({"corrupt_next_message": {"phone": "15550001111", "device": 300}})",
                          R"({"corrupt_next_message": {"phone": "1", "device": 1, "x": 1}})",
                          R"({"corrupt_next_message": "all"})"}) {
    auto e = Parse(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_NE(e.error().find("corrupt_next_message"), std::string::npos) << e.error();
  }
}

TEST(ParseFaultRequest, AllAndTargetDefaults) {
  auto drop = Parse(R"({"drop_connections": "all"})");
  ASSERT_TRUE(drop);
  EXPECT_TRUE(drop->drop_connections->all);
  auto err = Parse(R"({"stream_error": {"code": 515}})");
  ASSERT_TRUE(err);
  EXPECT_TRUE(err->stream_error->target.all);  // no phone: every connection
  EXPECT_FALSE(err->drop_connections);
  EXPECT_FALSE(err->frame_loss_probability);
}

TEST(ParseFaultRequest, RejectsBadInputNamingTheField) {
  struct Case {
    const char* body;
    const char* mentions;
  };
  for (const Case& c : std::initializer_list<Case>{
           {R"({})", "no fault"},
           {R"({"frame_loss": 0.5})", "unknown field frame_loss"},
           {R"({"seed": -1})", "seed"},
           {R"({"seed": "x"})", "seed"},
           {R"({"drop_connections": "some"})", "drop_connections"},
           {R"({"drop_connections": {}})", "drop_connections.phone"},
           {R"({"drop_connections": {"phone": "1", "device": 256}})", "drop_connections.device"},
           {R"({"drop_connections": {"phone": "1", "dev": 1}})", "unknown field drop_connections.dev"},
           {R"({"stream_error": 503})", "stream_error"},
           {R"({"stream_error": {"phone": "1"}})", "code, a conflict"},
           {R"({"stream_error": {"code": 5030}})", "stream_error.code"},
           {R"({"stream_error": {"code": 503.5}})", "stream_error.code"},
           {R"({"stream_error": {"device": 1, "code": 503}})", "stream_error.device needs"},
           {R"({"stream_error": {"conflict": "Replaced!"}})", "stream_error.conflict"},
           {R"({"frame_loss_probability": 1.5})", "frame_loss_probability"},
           {R"({"frame_loss_probability": "0.5"})", "frame_loss_probability"},
           {R"({"frame_delay_probability": -0.1})", "frame_delay_probability"},
           {R"({"frame_delay_ms": 60001})", "frame_delay_ms"},
           {R"({"frame_delay_ms": 1.5})", "frame_delay_ms"},
           {R"({"refuse_connections_for_s": 3601})", "refuse_connections_for_s"},
       }) {
    auto r = Parse(c.body);
    ASSERT_FALSE(r) << c.body;
    EXPECT_NE(r.error().find(c.mentions), std::string::npos) << c.body << " -> " << r.error();
  }
}

Faults::Fate Fate(Faults& f) { return f.NextStanzaToClient(); }

TEST(Faults, NothingHappensUntilAFaultIsSet) {
  Faults f(1);
  for (int i = 0; i < 100; ++i) {
    auto fate = Fate(f);
    EXPECT_FALSE(fate.lose);
    EXPECT_EQ(fate.delay, 0ms);
  }
  EXPECT_FALSE(f.Refusing(std::chrono::steady_clock::now()));
  EXPECT_TRUE(f.ActiveJson(std::chrono::steady_clock::now()).empty());
}

TEST(Faults, ASeedReplaysTheSameFates) {
  FaultRequest r;
  r.seed = 7;
  r.frame_loss_probability = 0.3;
  r.frame_delay = 50ms;
  r.frame_delay_probability = 0.5;
  auto now = std::chrono::steady_clock::now();
  Faults a(1), b(2);
  a.Apply(r, now);
  b.Apply(r, now);
  int lost = 0, delayed = 0;
  for (int i = 0; i < 2000; ++i) {
    auto fa = Fate(a), fb = Fate(b);
    ASSERT_EQ(fa.lose, fb.lose) << i;
    ASSERT_EQ(fa.delay, fb.delay) << i;
    lost += fa.lose;
    delayed += fa.delay > 0ms;
  }
  // 30% lost; half of the rest delayed (35% overall), with generous bounds for 2000 draws.
  EXPECT_GT(lost, 500);
  EXPECT_LT(lost, 700);
  EXPECT_GT(delayed, 600);
  EXPECT_LT(delayed, 800);

  // Another seed gives another sequence.
  Faults c(1);
  r.seed = 8;
  c.Apply(r, now);
  b.Apply(FaultRequest{.seed = 7}, now);
  int differ = 0;
  for (int i = 0; i < 100; ++i) differ += Fate(b).lose != Fate(c).lose;
  EXPECT_GT(differ, 0);
}

TEST(Faults, CertainLossAndDelayAndTheirJson) {
  Faults f(3);
  auto now = std::chrono::steady_clock::now();
  f.Apply({.frame_loss_probability = 1}, now);
  EXPECT_TRUE(Fate(f).lose);
  f.Apply({.frame_loss_probability = 0, .frame_delay = 200ms}, now);  // probability defaults to 1
  auto fate = Fate(f);
  EXPECT_FALSE(fate.lose);
  EXPECT_EQ(fate.delay, 200ms);
  auto json = f.ActiveJson(now);
  EXPECT_FALSE(json.contains("frame_loss_probability"));
  EXPECT_EQ(json.at("frame_delay_ms").as_int64(), 200);
  EXPECT_EQ(json.at("frame_delay_probability").as_double(), 1.0);
  f.Clear();
  EXPECT_EQ(Fate(f).delay, 0ms);
  EXPECT_TRUE(f.ActiveJson(now).empty());
}

TEST(Faults, RefusalWindowEnds) {
  Faults f(3);
  auto now = std::chrono::steady_clock::time_point(std::chrono::seconds(1000));
  f.Apply({.refuse_connections_for = 2000ms}, now);
  EXPECT_TRUE(f.Refusing(now));
  EXPECT_TRUE(f.Refusing(now + 1999ms));
  EXPECT_FALSE(f.Refusing(now + 2000ms));
  EXPECT_EQ(f.ActiveJson(now + 500ms).at("refuse_connections_remaining_ms").as_int64(), 1500);
  f.Apply({.refuse_connections_for = 0ms}, now);  // zero ends the window
  EXPECT_FALSE(f.Refusing(now));
}

}  // namespace
}  // namespace sim
