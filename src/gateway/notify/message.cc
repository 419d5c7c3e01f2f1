#include "gateway/notify/message.h"

#include <ctime>

namespace gateway::notify {

namespace {

constexpr char kHex[] = "0123456789ABCDEF";

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  while (i + 2 < in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
    i += 3;
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80 || c < 0x20) return false;
  }
  return true;
}

// Drops CR and LF so a value can never start a new header.
std::string OneLine(std::string_view s) {
  std::string out;
  for (char c : s) out += (c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

}  // namespace

bool ValidAddr(std::string_view addr) {
  auto at = addr.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= addr.size()) return false;
  if (addr.find('@', at + 1) != std::string_view::npos) return false;
  for (unsigned char c : addr) {
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' || c == ',' || c == '(' ||
        c == ')' || c == ';' || c == '\\') {
      return false;
    }
  }
  return addr.size() <= 254;
}

bool ParseAddress(std::string_view text, Address* out) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  };
  text = trim(text);
  auto open = text.rfind('<');
  if (open == std::string_view::npos) {
    if (!ValidAddr(text)) return false;
    *out = Address{"", std::string(text)};
    return true;
  }
  if (text.back() != '>') return false;
  auto addr = text.substr(open + 1, text.size() - open - 2);
  auto name = trim(text.substr(0, open));
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
  if (!ValidAddr(addr)) return false;
  for (char c : name) {
    if (c == '\r' || c == '\n' || c == '<' || c == '>' || c == '"') return false;
  }
  *out = Address{std::string(name), std::string(addr)};
  return true;
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string QuotedPrintable(std::string_view utf8) {
  // Input lines end in '\n' (a lone '\r' is dropped); output lines end in CRLF. Soft breaks keep
  // encoded lines at 76 characters including the trailing '='.
  std::string out;
  std::size_t col = 0;
  auto put = [&](std::string_view piece) {
    if (col + piece.size() > 75) {
      out += "=\r\n";
      col = 0;
    }
    out += piece;
    col += piece.size();
  };
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(utf8[i]);
    if (c == '\r') continue;
    if (c == '\n') {
      out += "\r\n";
      col = 0;
      continue;
    }
    bool at_line_end = i + 1 == utf8.size() || utf8[i + 1] == '\n' || utf8[i + 1] == '\r';
    // Space and tab are literal except before a line end (transports strip trailing blanks).
    // '.' at the start of a line is encoded too, so no line is a lone "." in any transport.
    bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    if (c == '.' && col == 0) literal = false;
    if (literal) {
      char ch = static_cast<char>(c);
      put(std::string_view(&ch, 1));
    } else {
      char enc[3] = {'=', kHex[c >> 4], kHex[c & 15]};
      put(std::string_view(enc, 3));
    }
  }
  return out;
}

std::string EncodeHeaderText(std::string_view utf8) {
  std::string line = OneLine(utf8);
  if (IsAscii(line)) return line;
  // Encoded words of at most 75 characters: 45 input bytes -> 60 base64 characters plus 12 of
  // framing. A UTF-8 sequence is never split between two words (RFC 2047 section 5).
  std::string out;
  std::size_t i = 0;
  while (i < line.size()) {
    std::size_t end = std::min(line.size(), i + 45);
    while (end < line.size() && end > i && (static_cast<unsigned char>(line[end]) & 0xC0) == 0x80) --end;
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64(std::string_view(line).substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string FormatAddress(const Address& a) {
  if (a.name.empty()) return "<" + a.addr + ">";
  std::string name = OneLine(a.name);
  if (!IsAscii(name)) return EncodeHeaderText(name) + " <" + a.addr + ">";
  std::string quoted;
  for (char c : name) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return "\"" + quoted + "\" <" + a.addr + ">";
}

std::string RfcDate(std::int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string Render(const Mail& mail) {
  std::string m;
  m += "Date: " + RfcDate(mail.date_ms) + "\r\n";
  m += "From: " + FormatAddress(mail.from) + "\r\n";
  m += "To: " + FormatAddress(mail.to) + "\r\n";
  m += "Subject: " + EncodeHeaderText(mail.subject) + "\r\n";
  m += "Message-ID: <" + OneLine(mail.message_id) + ">\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Auto-Submitted: auto-generated\r\n";
  m += "Content-Type: multipart/alternative; boundary=\"" + mail.boundary + "\"\r\n";
  m += "\r\n";
  m += "This is a multipart message in MIME format.\r\n";
  auto part = [&](const char* type, const std::string& body) {
    m += "\r\n--" + mail.boundary + "\r\n";
    m += std::string("Content-Type: ") + type + "; charset=UTF-8\r\n";
    m += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    m += QuotedPrintable(body);
  };
  part("text/plain", mail.text);
  part("text/html", mail.html);
  m += "\r\n--" + mail.boundary + "--\r\n";
  return m;
}

}  // namespace gateway::notify
