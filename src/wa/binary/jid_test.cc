#include "wa/binary/jid.h"

#include <gtest/gtest.h>

namespace wa::binary {
namespace {

Jid MustParse(std::string_view text) {
  auto r = Jid::Parse(text);
  EXPECT_TRUE(r.has_value()) << text << ": " << (r ? "" : r.error().message());
  return r ? *r : Jid();
}

JidErrc ParseError(std::string_view text) {
  auto r = Jid::Parse(text);
  EXPECT_FALSE(r.has_value()) << text;
  if (r) return JidErrc{};
  EXPECT_EQ(&r.error().category(), &JidCategory());
  return static_cast<JidErrc>(r.error().value());
}

TEST(Jid, ParsePlainUser) {
  Jid j = MustParse("5511987654321@s.whatsapp.net");
  EXPECT_EQ(j.user(), "5511987654321");
  EXPECT_EQ(j.server(), kUserServer);
  EXPECT_EQ(j.form(), Jid::Form::kPair);
  EXPECT_EQ(j.device(), 0);
  EXPECT_EQ(j.agent(), 0);
  EXPECT_TRUE(j.IsUser());
  EXPECT_FALSE(j.IsDevice());
  EXPECT_FALSE(j.IsServer());
  EXPECT_EQ(j.ToString(), "5511987654321@s.whatsapp.net");
  EXPECT_EQ(j, Jid::User("5511987654321"));
}

TEST(Jid, ParseServer) {
  Jid j = MustParse("@s.whatsapp.net");
  EXPECT_TRUE(j.IsServer());
  EXPECT_FALSE(j.IsUser());
  EXPECT_EQ(j, Jid::Server());
  EXPECT_EQ(j.ToString(), "@s.whatsapp.net");
}

TEST(Jid, ParseAdDevice) {
  Jid j = MustParse("5511987654321:12@s.whatsapp.net");
  EXPECT_EQ(j.form(), Jid::Form::kAd);
  EXPECT_EQ(j.user(), "5511987654321");
  EXPECT_EQ(j.device(), 12);
  EXPECT_EQ(j.agent(), kDomainWhatsApp);
  EXPECT_TRUE(j.IsDevice());
  EXPECT_EQ(j.ToString(), "5511987654321:12@s.whatsapp.net");
  EXPECT_EQ(j, Jid::User("5511987654321", 12));
  EXPECT_EQ(j.ToNonAd(), Jid::User("5511987654321"));
}

// Baileys writes AD_JID whenever a device part is present, and renders device 0 without it.
TEST(Jid, ParseAdDeviceZero) {
  Jid j = MustParse("5511000000000:0@s.whatsapp.net");
  EXPECT_EQ(j.form(), Jid::Form::kAd);
  EXPECT_EQ(j.device(), 0);
  EXPECT_EQ(j.ToString(), "5511000000000@s.whatsapp.net");
  EXPECT_NE(j, MustParse("5511000000000@s.whatsapp.net"));  // same address, other wire form
  EXPECT_EQ(j.ToNonAd(), MustParse("5511000000000@s.whatsapp.net"));
}

TEST(Jid, ParseLid) {
  Jid user = MustParse("123456789012345@lid");
  EXPECT_TRUE(user.IsLid());
  EXPECT_EQ(user.form(), Jid::Form::kPair);
  EXPECT_EQ(user.agent(), kDomainLid);
  EXPECT_EQ(user, Jid::Lid("123456789012345"));
  Jid device = MustParse("123456789012345:3@lid");
  EXPECT_EQ(device.form(), Jid::Form::kAd);
  EXPECT_EQ(device.agent(), kDomainLid);
  EXPECT_EQ(device.device(), 3);
  EXPECT_EQ(device, Jid::Lid("123456789012345", 3));
  EXPECT_EQ(device, Jid::Ad("123456789012345", kDomainLid, 3));
  EXPECT_EQ(device.ToString(), "123456789012345:3@lid");
}

TEST(Jid, ParseHosted) {
  Jid pn = MustParse("5511987654321:5@hosted");
  EXPECT_TRUE(pn.IsHosted());
  EXPECT_EQ(pn.agent(), kDomainHosted);
  EXPECT_EQ(pn, Jid::Ad("5511987654321", kDomainHosted, 5));
  Jid lid = MustParse("99:7@hosted.lid");
  EXPECT_TRUE(lid.IsHosted());
  EXPECT_EQ(lid.agent(), kDomainHostedLid);
  EXPECT_EQ(lid, Jid::Ad("99", kDomainHostedLid, 7));
  EXPECT_EQ(lid.ToString(), "99:7@hosted.lid");
}

TEST(Jid, ParseAgent) {
  Jid j = MustParse("5511_128:5@s.whatsapp.net");
  EXPECT_EQ(j.user(), "5511");
  EXPECT_EQ(j.agent(), 128);
  EXPECT_EQ(j.device(), 5);
  // Baileys does not render the agent.
  EXPECT_EQ(j.ToString(), "5511:5@s.whatsapp.net");
  EXPECT_EQ(ParseError("1_2:3@lid"), JidErrc::kBadAgent);   // conflicts with lid's domain 1
  EXPECT_EQ(MustParse("1_1:3@lid"), Jid::Lid("1", 3));
  EXPECT_EQ(ParseError("1_x:3@s.whatsapp.net"), JidErrc::kBadAgent);
  EXPECT_EQ(ParseError("1_256:3@s.whatsapp.net"), JidErrc::kBadAgent);
}

TEST(Jid, ParseFb) {
  Jid j = MustParse("100012345:7@msgr");
  EXPECT_EQ(j.form(), Jid::Form::kFb);
  EXPECT_EQ(j.user(), "100012345");
  EXPECT_EQ(j.device(), 7);
  EXPECT_EQ(j.server(), kMessengerServer);
  EXPECT_EQ(j, Jid::Fb("100012345", 7));
  EXPECT_EQ(j.ToString(), "100012345:7@msgr");
  EXPECT_EQ(Jid::Fb("1", 0).ToString(), "1:0@msgr");  // FB renders device 0
  EXPECT_EQ(MustParse("1:65535@msgr").device(), 65535);
  EXPECT_EQ(ParseError("1:65536@msgr"), JidErrc::kBadDevice);
  EXPECT_EQ(MustParse("100012345@msgr").form(), Jid::Form::kPair);
}

TEST(Jid, ParseInterop) {
  Jid j = MustParse("2-99887766:1@interop");
  EXPECT_EQ(j.form(), Jid::Form::kInterop);
  EXPECT_EQ(j.user(), "99887766");
  EXPECT_EQ(j.integrator(), 2);
  EXPECT_EQ(j.device(), 1);
  EXPECT_EQ(j, Jid::Interop("99887766", 1, 2));
  EXPECT_EQ(j.ToString(), "2-99887766:1@interop");
  EXPECT_EQ(ParseError("99887766:1@interop"), JidErrc::kBadIntegrator);
  EXPECT_EQ(ParseError("x-99887766:1@interop"), JidErrc::kBadIntegrator);
}

TEST(Jid, ParseOtherServers) {
  Jid group = MustParse("120363012345678901@g.us");
  EXPECT_TRUE(group.IsGroup());
  EXPECT_FALSE(group.IsUser());
  Jid status = MustParse("status@broadcast");
  EXPECT_TRUE(status.IsBroadcast());
  EXPECT_TRUE(status.IsStatusBroadcast());
  EXPECT_TRUE(MustParse("123@newsletter").IsNewsletter());
  EXPECT_TRUE(MustParse("13135550002@bot").IsBot());
  Jid legacy = MustParse("16505361212@c.us");
  EXPECT_EQ(legacy.server(), kLegacyUserServer);
  EXPECT_EQ(legacy.ToString(), "16505361212@c.us");
  // Groups and other servers have no device form.
  EXPECT_EQ(ParseError("1:2@g.us"), JidErrc::kDeviceNotAllowed);
  EXPECT_EQ(ParseError("1_2@c.us"), JidErrc::kDeviceNotAllowed);
}

TEST(Jid, ParseErrors) {
  EXPECT_EQ(ParseError("5511987654321"), JidErrc::kNoAt);
  EXPECT_EQ(ParseError(""), JidErrc::kNoAt);
  EXPECT_EQ(ParseError("1@"), JidErrc::kEmptyServer);
  EXPECT_EQ(ParseError("a@b@c"), JidErrc::kBadServer);
  EXPECT_EQ(ParseError("1:@s.whatsapp.net"), JidErrc::kBadDevice);
  EXPECT_EQ(ParseError("1:x@s.whatsapp.net"), JidErrc::kBadDevice);
  EXPECT_EQ(ParseError("1:256@s.whatsapp.net"), JidErrc::kBadDevice);
  EXPECT_EQ(ParseError("1:-1@s.whatsapp.net"), JidErrc::kBadDevice);
  EXPECT_EQ(ParseError("1:+1@s.whatsapp.net"), JidErrc::kBadDevice);
  EXPECT_EQ(MustParse("1:255@s.whatsapp.net").device(), 255);
}

// Parse(ToString()) gives the value back for every form Baileys renders completely.
TEST(Jid, RoundTripThroughText) {
  const Jid jids[] = {
      Jid::Server(),
      Jid::User("5511987654321"),
      Jid::User("5511987654321", 12),
      Jid::Lid("123456789012345"),
      Jid::Lid("123456789012345", 3),
      Jid::Ad("5511987654321", kDomainHosted, 5),
      Jid::Ad("5511987654321", kDomainHostedLid, 9),
      Jid::Fb("100012345", 7),
      Jid::Fb("100012345", 0),
      Jid::Interop("99887766", 1, 2),
      Jid::Pair("120363012345678901", "g.us"),
      Jid::Pair("status", "broadcast"),
      Jid::Pair("123", "newsletter"),
  };
  for (const Jid& j : jids) {
    SCOPED_TRACE(j.ToString());
    EXPECT_EQ(MustParse(j.ToString()), j);
  }
}

TEST(Jid, WithDevice) {
  EXPECT_EQ(Jid::User("1").WithDevice(4), Jid::User("1", 4));
  EXPECT_EQ(Jid::Lid("1").WithDevice(4), Jid::Lid("1", 4));
  EXPECT_EQ(Jid::User("1", 4).WithDevice(0).form(), Jid::Form::kAd);
  EXPECT_EQ(Jid::Pair("1", "msgr").WithDevice(3), Jid::Fb("1", 3));
}

TEST(Jid, DomainsAndServers) {
  EXPECT_EQ(ServerOfDomain(0), kUserServer);
  EXPECT_EQ(ServerOfDomain(1), kLidServer);
  EXPECT_EQ(ServerOfDomain(128), kHostedServer);
  EXPECT_EQ(ServerOfDomain(129), kHostedLidServer);
  EXPECT_EQ(ServerOfDomain(5), kUserServer);
  EXPECT_EQ(DomainOfServer("lid"), 1);
  EXPECT_EQ(DomainOfServer("hosted"), 128);
  EXPECT_EQ(DomainOfServer("hosted.lid"), 129);
  EXPECT_EQ(DomainOfServer("s.whatsapp.net"), -1);
  // An unknown domain byte keeps the byte and reads as s.whatsapp.net.
  Jid odd = Jid::Ad("1", 5, 2);
  EXPECT_EQ(odd.server(), kUserServer);
  EXPECT_EQ(odd.agent(), 5);
}

TEST(Jid, AppendToReportsLayout) {
  std::string out = "x";
  auto layout = Jid::Interop("99887766", 1, 2).AppendTo(out);
  EXPECT_EQ(out, "x2-99887766:1@interop");
  EXPECT_EQ(out.substr(1 + layout.user_offset, 8), "99887766");
  EXPECT_EQ(out.substr(1 + layout.server_offset), "interop");
}

TEST(Jid, Ordering) {
  EXPECT_LT(Jid::User("1"), Jid::User("2"));
  EXPECT_EQ(Jid::User("1"), Jid::User("1"));
}

}  // namespace
}  // namespace wa::binary
