#include "wa/binary/printer.h"

#include <cstdio>

namespace wa::binary {

namespace {

void AppendEscaped(std::string& out, std::string_view text, std::size_t limit) {
  std::size_t n = text.size() < limit ? text.size() : limit;
  for (std::size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  if (n < text.size()) out += "...(" + std::to_string(text.size()) + " bytes)";
}

void AppendHex(std::string& out, base::ByteView bytes, std::size_t limit) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::size_t n = bytes.size() < limit ? bytes.size() : limit;
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xF];
  }
  if (n < bytes.size()) out += "...(" + std::to_string(bytes.size()) + " bytes)";
}

void Print(std::string& out, const Node& node, const PrintOptions& opt, int depth) {
  if (opt.indent) out.append(static_cast<std::size_t>(depth) * 2, ' ');
  out += '<';
  AppendEscaped(out, node.tag, opt.max_text);
  for (const Attr& a : node.attrs) {
    out += ' ';
    AppendEscaped(out, a.key, opt.max_text);
    out += "=\"";
    AppendEscaped(out, a.value.text(), opt.max_text);
    out += '"';
  }
  if (!node.has_content()) {
    out += "/>";
    if (opt.indent) out += '\n';
    return;
  }
  out += '>';
  if (node.has_children()) {
    if (opt.indent) out += '\n';
    for (const Node& child : node.children()) Print(out, child, opt, depth + 1);
    if (opt.indent) out.append(static_cast<std::size_t>(depth) * 2, ' ');
  } else if (const auto* b = node.bytes()) {
    AppendHex(out, *b, opt.max_bytes);
  } else if (const auto* v = node.text()) {
    AppendEscaped(out, v->text(), opt.max_text);
  }
  out += "</";
  AppendEscaped(out, node.tag, opt.max_text);
  out += '>';
  if (opt.indent) out += '\n';
}

}  // namespace

std::string ToXml(const Node& node, const PrintOptions& options) {
  std::string out;
  Print(out, node, options, 0);
  return out;
}

}  // namespace wa::binary
