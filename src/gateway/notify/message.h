// Builds RFC 5322 email messages: a multipart/alternative with a plain-text part first and an
// HTML part last (the one mail clients prefer), both UTF-8 in quoted-printable, so lines stay
// short and any text is safe on the wire. Built by hand rather than with curl_mime so the
// exact bytes are testable and can be stored once in the email outbox.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gateway::notify {

struct Address {
  std::string name;  // display name, may be empty or non-ASCII
  std::string addr;  // local@domain
};

// "Name <addr>" or "addr"; false when there is no plausible address (one '@', no spaces, no
// angle brackets or CR/LF).
bool ParseAddress(std::string_view text, Address* out);
bool ValidAddr(std::string_view addr);

struct Mail {
  Address from;
  Address to;
  std::string subject;
  std::string text;  // plain-text part (UTF-8, '\n' line ends)
  std::string html;  // HTML part (UTF-8)
  std::int64_t date_ms = 0;
  std::string message_id;  // without angle brackets: unique@domain
  std::string boundary;    // must not occur in the encoded parts (quoted-printable never has "=_")
};

// The full message with CRLF line ends.
std::string Render(const Mail& mail);

// Pieces, exposed for tests.
std::string QuotedPrintable(std::string_view utf8);    // RFC 2045 6.7, lines <= 76
std::string EncodeHeaderText(std::string_view utf8);   // RFC 2047 B-encoded words when not ASCII
std::string FormatAddress(const Address& a);
std::string RfcDate(std::int64_t unix_ms);             // "Wed, 01 Jan 2025 12:00:00 +0000"
std::string HtmlEscape(std::string_view text);

}  // namespace gateway::notify
