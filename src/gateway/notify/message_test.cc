#include "gateway/notify/message.h"

#include <gtest/gtest.h>

#include "gateway/notify/templates.h"

namespace gateway::notify {
namespace {

// Decodes quoted-printable (for checking round trips).
std::string DecodeQp(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=' && i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') {
      i += 2;
    } else if (in[i] == '=' && i + 2 < in.size()) {
      out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (in[i] == '\r') {
      continue;
    } else {
      out += in[i];
    }
  }
  return out;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    auto end = s.find("\r\n", start);
    if (end == std::string::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 2;
  }
  return out;
}

TEST(QuotedPrintableTest, RoundTripsAndKeepsLinesShort) {
  std::string text = "Olá, 世界! a=b\nline two with trailing space \n.dot first\n" + std::string(300, 'x');
  std::string qp = QuotedPrintable(text);
  EXPECT_EQ(DecodeQp(qp), text);
  for (const auto& line : Lines(qp)) EXPECT_LE(line.size(), 76u) << line;
  EXPECT_NE(qp.find("=3D"), std::string::npos);     // '=' is always encoded
  EXPECT_NE(qp.find("space=20\r\n"), std::string::npos);  // no trailing blank on a line
  EXPECT_NE(qp.find("\r\n=2Edot"), std::string::npos);    // no line starts with '.'
  EXPECT_EQ(qp.find("=_"), std::string::npos);
  for (char c : qp) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
}

TEST(HeaderTest, NonAsciiSubjectsAreEncodedWordsAndCrLfCannotInjectHeaders) {
  EXPECT_EQ(EncodeHeaderText("plain subject"), "plain subject");
  EXPECT_EQ(EncodeHeaderText("Bcc: x\r\nInjected: y"), "Bcc: x  Injected: y");
  std::string enc = EncodeHeaderText("Re-link Café");
  EXPECT_EQ(enc, "=?UTF-8?B?UmUtbGluayBDYWbDqQ==?=");
  std::string long_name(40, 'a');
  long_name += "é€";  // crosses the 45-byte cut inside a multi-byte sequence
  for (const auto& word : Lines(EncodeHeaderText(long_name))) EXPECT_LE(word.size(), 76u);
}

TEST(AddressTest, ParsesAndRefusesInjection) {
  Address a;
  ASSERT_TRUE(ParseAddress("Gateway <noreply@example.com>", &a));
  EXPECT_EQ(a.name, "Gateway");
  EXPECT_EQ(a.addr, "noreply@example.com");
  ASSERT_TRUE(ParseAddress("ops@example.com", &a));
  EXPECT_EQ(a.name, "");
  EXPECT_FALSE(ParseAddress("no-at-sign", &a));
  EXPECT_FALSE(ParseAddress("a@b@c", &a));
  EXPECT_FALSE(ParseAddress("x@y.z>\r\nBcc: z@q", &a));
  EXPECT_FALSE(ValidAddr("a b@c.d"));
  EXPECT_EQ(FormatAddress({"Ops \"team\"", "o@x.y"}), "\"Ops \\\"team\\\"\" <o@x.y>");
}

TEST(DateTest, Rfc5322Form) {
  EXPECT_EQ(RfcDate(1735732800000), "Wed, 01 Jan 2025 12:00:00 +0000");
}

TEST(RenderTest, HasTheHeadersAndBothPartsInOrder) {
  Mail mail{.from = {"Gateway", "noreply@example.com"},
            .to = {"", "alice@example.org"},
            .subject = "Re-link <b>shop</b>",
            .text = "Hello Alice\nhttps://dash.example/sessions/ses_1\n",
            .html = "<p>Hello Alice</p>",
            .date_ms = 1735732800000,
            .message_id = "abc123@example.com",
            .boundary = "=_wagate_b1"};
  std::string m = Render(mail);
  auto head_end = m.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  std::string head = m.substr(0, head_end + 2);
  EXPECT_NE(head.find("Date: Wed, 01 Jan 2025 12:00:00 +0000\r\n"), std::string::npos);
  EXPECT_NE(head.find("From: \"Gateway\" <noreply@example.com>\r\n"), std::string::npos);
  EXPECT_NE(head.find("To: <alice@example.org>\r\n"), std::string::npos);
  EXPECT_NE(head.find("Subject: Re-link <b>shop</b>\r\n"), std::string::npos);
  EXPECT_NE(head.find("Message-ID: <abc123@example.com>\r\n"), std::string::npos);
  EXPECT_NE(head.find("MIME-Version: 1.0\r\n"), std::string::npos);
  EXPECT_NE(head.find("Content-Type: multipart/alternative; boundary=\"=_wagate_b1\"\r\n"), std::string::npos);
  auto text_at = m.find("\r\n--=_wagate_b1\r\nContent-Type: text/plain; charset=UTF-8\r\n");
  auto html_at = m.find("\r\n--=_wagate_b1\r\nContent-Type: text/html; charset=UTF-8\r\n");
  auto end_at = m.find("\r\n--=_wagate_b1--\r\n");
  ASSERT_NE(text_at, std::string::npos);
  ASSERT_NE(html_at, std::string::npos);
  ASSERT_NE(end_at, std::string::npos);
  EXPECT_LT(text_at, html_at);  // plain text first, HTML (preferred) last
  EXPECT_LT(html_at, end_at);
  EXPECT_EQ(end_at + std::string("\r\n--=_wagate_b1--\r\n").size(), m.size());
  // Every line ends in CRLF: no bare LF anywhere.
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\n') {
      ASSERT_GT(i, 0u);
      EXPECT_EQ(m[i - 1], '\r') << "bare LF at " << i;
    }
  }
}

TEST(TemplatesTest, LoggedOutHasTheRelinkUrlInBothPartsAndEscapesTheName) {
  AlertFacts f{.kind = AlertKind::kLoggedOut,
               .account_email = "a@x.y",
               .session_id = "ses_123",
               .session_name = "<script>alert('x')</script> & co",
               .reason = "logged_out",
               .public_url = "https://dash.example.com/"};
  Content c = RenderAlert(f);
  const std::string url = "https://dash.example.com/sessions/ses_123";
  EXPECT_EQ(RelinkUrl(f.public_url, f.session_id), url);
  EXPECT_NE(c.text.find(url), std::string::npos);
  EXPECT_NE(c.html.find("href=\"" + url + "\""), std::string::npos);
  EXPECT_NE(c.subject.find("Re-link"), std::string::npos);
  EXPECT_NE(c.text.find("<script>alert('x')</script> & co"), std::string::npos);  // plain text: verbatim
  EXPECT_EQ(c.html.find("<script>"), std::string::npos);
  EXPECT_NE(c.html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"), std::string::npos);
}

TEST(TemplatesTest, EveryKindHasSubjectAndBothBodies) {
  for (AlertKind k : {AlertKind::kLoggedOut, AlertKind::kDisconnected, AlertKind::kEndpointDisabled,
                      AlertKind::kQuota80, AlertKind::kQuota100}) {
    AlertFacts f{.kind = k, .session_id = "ses_1", .since_ms = 1735732800000, .minutes = 10,
                 .endpoint_id = "whk_1", .endpoint_url = "https://h.example/x?a=1&b=<2>", .used = 8,
                 .limit = 10, .plan = "starter", .public_url = "https://d.example"};
    Content c = RenderAlert(f);
    EXPECT_FALSE(c.subject.empty()) << KindName(k);
    EXPECT_FALSE(c.text.empty()) << KindName(k);
    EXPECT_NE(c.html.find("<html>"), std::string::npos) << KindName(k);
    if (k == AlertKind::kEndpointDisabled) {
      EXPECT_NE(c.text.find("https://h.example/x?a=1&b=<2>"), std::string::npos);
      EXPECT_NE(c.html.find("https://h.example/x?a=1&amp;b=&lt;2&gt;"), std::string::npos);
      EXPECT_EQ(c.html.find("b=<2>"), std::string::npos);
    }
    if (k == AlertKind::kQuota80) {
      EXPECT_NE(c.text.find("8 of the 10"), std::string::npos);
    }
    if (k == AlertKind::kDisconnected) {
      EXPECT_NE(c.text.find("since 01 Jan 2025 12:00:00 UTC"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace gateway::notify
