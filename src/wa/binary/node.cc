#include "wa/binary/node.h"

#include <charconv>
#include <cstring>
#include <limits>

#include "base/check.h"
#include "wa/binary/printer.h"

namespace wa::binary {

void Value::SetText(std::string_view text) {
  // Texts come from frames of at most 2^24 bytes or from our own code; the encoder refuses 2^32.
  WA_CHECK(text.size() <= std::numeric_limits<std::uint32_t>::max());
  Release();
  if (text.size() > kInlineCapacity) {
    heap_ = new char[text.size()];
    std::memcpy(heap_, text.data(), text.size());
  } else if (!text.empty()) {
    std::memcpy(inline_, text.data(), text.size());
  }
  size_ = static_cast<std::uint32_t>(text.size());
}

void Value::SetJidParts(const JidParts& parts) {
  kind_ = Kind::kJid;
  form_ = parts.form;
  agent_ = parts.agent;
  device_ = parts.device;
  integrator_ = parts.integrator;
  user_offset_ = static_cast<std::uint8_t>(parts.user_offset);
  user_size_ = static_cast<std::uint32_t>(parts.user_size);
  server_offset_ = static_cast<std::uint32_t>(parts.server_offset);
}

Value::Value(const Value& other)
    : size_(0),
      kind_(other.kind_),
      form_(other.form_),
      agent_(other.agent_),
      device_(other.device_),
      integrator_(other.integrator_),
      user_offset_(other.user_offset_),
      user_size_(other.user_size_),
      server_offset_(other.server_offset_) {
  SetText(other.text());
}

Value& Value::operator=(const Value& other) {
  if (this != &other) *this = Value(other);
  return *this;
}

Value& Value::operator=(Value&& other) noexcept {
  if (this == &other) return *this;
  Release();
  size_ = other.size_;
  if (size_ > kInlineCapacity) {
    heap_ = other.heap_;
  } else if (size_ != 0) {
    std::memcpy(inline_, other.inline_, size_);
  }
  other.size_ = 0;
  kind_ = other.kind_;
  form_ = other.form_;
  agent_ = other.agent_;
  device_ = other.device_;
  integrator_ = other.integrator_;
  user_offset_ = other.user_offset_;
  user_size_ = other.user_size_;
  server_offset_ = other.server_offset_;
  return *this;
}

Value::Value(const Jid& jid) {
  std::string text;
  Jid::Layout layout = jid.AppendTo(text);
  SetText(text);
  SetJidParts({.form = jid.form(),
               .agent = jid.agent(),
               .device = jid.device(),
               .integrator = jid.integrator(),
               .user_offset = layout.user_offset,
               .user_size = jid.user().size(),
               .server_offset = layout.server_offset});
}

Value Value::Raw(std::string_view text) {
  Value v(text);
  v.kind_ = Kind::kRaw;
  return v;
}

Value Value::FromRenderedJid(std::string_view text, const JidParts& parts) {
  Value v(text);
  v.SetJidParts(parts);
  return v;
}

std::optional<Jid> Value::jid() const {
  if (kind_ != Kind::kJid) return std::nullopt;
  return Jid::FromParts(form_, std::string(jid_user()), std::string(jid_server()), agent_, device_,
                        integrator_);
}

bool operator==(const Value& a, const Value& b) {
  bool a_jid = a.kind_ == Value::Kind::kJid;
  bool b_jid = b.kind_ == Value::Kind::kJid;
  if (a_jid != b_jid || a.text() != b.text()) return false;
  if (!a_jid) return true;
  return a.form_ == b.form_ && a.agent_ == b.agent_ && a.device_ == b.device_ &&
         a.integrator_ == b.integrator_ && a.jid_user() == b.jid_user() &&
         a.jid_server() == b.jid_server();
}

std::ostream& operator<<(std::ostream& os, const Value& value) {
  os << '"' << value.text() << '"';
  if (value.is_jid()) os << "(jid)";
  if (value.kind() == Value::Kind::kRaw) os << "(raw)";
  return os;
}

Node::Node(std::string tag, std::vector<Attr> attrs) : tag(std::move(tag)), attrs(std::move(attrs)) {}

Node::Node(std::string tag, std::vector<Attr> attrs, Children children)
    : tag(std::move(tag)), attrs(std::move(attrs)), content(std::move(children)) {}

Node::Node(std::string tag, std::vector<Attr> attrs, base::Bytes bytes)
    : tag(std::move(tag)), attrs(std::move(attrs)), content(std::move(bytes)) {}

Node::Node(std::string tag, std::vector<Attr> attrs, Value text)
    : tag(std::move(tag)), attrs(std::move(attrs)), content(std::move(text)) {}

const Value* Node::FindAttr(std::string_view key) const {
  for (auto it = attrs.rbegin(); it != attrs.rend(); ++it) {
    if (it->key == key) return &it->value;
  }
  return nullptr;
}

std::optional<std::string_view> Node::GetAttr(std::string_view key) const {
  const Value* v = FindAttr(key);
  if (!v) return std::nullopt;
  return v->text();
}

std::string_view Node::AttrOr(std::string_view key, std::string_view fallback) const {
  const Value* v = FindAttr(key);
  return v ? v->text() : fallback;
}

std::optional<Jid> Node::GetJid(std::string_view key) const {
  const Value* v = FindAttr(key);
  if (!v) return std::nullopt;
  if (v->is_jid()) return v->jid();
  auto parsed = Jid::Parse(v->text());
  if (!parsed) return std::nullopt;
  return std::move(*parsed);
}

void Node::SetAttr(std::string_view key, Value value) {
  for (auto it = attrs.rbegin(); it != attrs.rend(); ++it) {
    if (it->key == key) {
      it->value = std::move(value);
      return;
    }
  }
  attrs.push_back(Attr{std::string(key), std::move(value)});
}

AttrReader Node::Attrs() const { return AttrReader(*this); }

std::span<const Node> Node::children() const {
  if (const auto* c = std::get_if<Children>(&content)) return *c;
  return {};
}

Node::Children* Node::mutable_children() {
  if (!std::holds_alternative<Children>(content)) content = Children{};
  return &std::get<Children>(content);
}

std::optional<std::string_view> Node::ContentText() const {
  if (const auto* v = text()) return v->text();
  if (const auto* b = bytes()) return base::AsChars(*b);
  return std::nullopt;
}

std::optional<base::ByteView> Node::ContentBytes() const {
  if (const auto* b = bytes()) return base::ByteView(*b);
  if (const auto* v = text()) return base::AsBytes(v->text());
  return std::nullopt;
}

const Node* Node::Child(std::string_view child_tag) const {
  for (const Node& child : children()) {
    if (child.tag == child_tag) return &child;
  }
  return nullptr;
}

std::vector<const Node*> Node::ChildrenByTag(std::string_view child_tag) const {
  std::vector<const Node*> out;
  for (const Node& child : children()) {
    if (child.tag == child_tag) out.push_back(&child);
  }
  return out;
}

bool operator==(const Node& a, const Node& b) {
  return a.tag == b.tag && a.attrs == b.attrs && a.content == b.content;
}

std::ostream& operator<<(std::ostream& os, const Node& node) { return os << ToXml(node); }

// AttrReader.

std::optional<std::string_view> AttrReader::Lookup(std::string_view key, bool required) {
  auto v = node_->GetAttr(key);
  if (!v && required) Fail(key, Error::Reason::kMissing, {});
  return v;
}

void AttrReader::Fail(std::string_view key, Error::Reason reason, std::string_view value) {
  errors_.push_back(Error{std::string(key), reason, std::string(value)});
}

std::string_view AttrReader::String(std::string_view key) { return Lookup(key, true).value_or(""); }

std::optional<std::string_view> AttrReader::OptionalString(std::string_view key) {
  return Lookup(key, false);
}

namespace {

template <class T>
std::optional<T> ParseInteger(std::string_view s, bool& out_of_range) {
  out_of_range = false;
  T value{};
  if (s.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec == std::errc::result_out_of_range) {
    out_of_range = true;
    return std::nullopt;
  }
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<Jid> AttrReader::OptionalJid(std::string_view key) {
  const Value* v = node_->FindAttr(key);
  if (!v) return std::nullopt;
  auto jid = node_->GetJid(key);
  if (!jid) Fail(key, Error::Reason::kNotJid, v->text());
  return jid;
}

Jid AttrReader::GetJid(std::string_view key) {
  if (!node_->FindAttr(key)) {
    Fail(key, Error::Reason::kMissing, {});
    return Jid();
  }
  return OptionalJid(key).value_or(Jid());
}

std::optional<std::int64_t> AttrReader::OptionalInt64(std::string_view key) {
  auto s = Lookup(key, false);
  if (!s) return std::nullopt;
  bool range = false;
  auto v = ParseInteger<std::int64_t>(*s, range);
  if (!v) Fail(key, range ? Error::Reason::kOutOfRange : Error::Reason::kNotInteger, *s);
  return v;
}

std::int64_t AttrReader::Int64(std::string_view key) {
  if (!Lookup(key, true)) return 0;
  return OptionalInt64(key).value_or(0);
}

std::optional<std::uint64_t> AttrReader::OptionalUint64(std::string_view key) {
  auto s = Lookup(key, false);
  if (!s) return std::nullopt;
  bool range = false;
  auto v = ParseInteger<std::uint64_t>(*s, range);
  if (!v) Fail(key, range ? Error::Reason::kOutOfRange : Error::Reason::kNotInteger, *s);
  return v;
}

std::uint64_t AttrReader::Uint64(std::string_view key) {
  if (!Lookup(key, true)) return 0;
  return OptionalUint64(key).value_or(0);
}

std::optional<bool> AttrReader::OptionalBool(std::string_view key) {
  auto s = Lookup(key, false);
  if (!s) return std::nullopt;
  if (*s == "true" || *s == "1") return true;
  if (*s == "false" || *s == "0") return false;
  Fail(key, Error::Reason::kNotBool, *s);
  return std::nullopt;
}

bool AttrReader::Bool(std::string_view key) {
  if (!Lookup(key, true)) return false;
  return OptionalBool(key).value_or(false);
}

std::string AttrReader::ErrorText() const {
  std::string out;
  for (const Error& e : errors_) {
    if (!out.empty()) out += "; ";
    switch (e.reason) {
      case Error::Reason::kMissing:
        out += "missing attribute '" + e.key + "'";
        continue;
      case Error::Reason::kNotJid: out += "attribute '" + e.key + "' is not a JID"; break;
      case Error::Reason::kNotInteger: out += "attribute '" + e.key + "' is not an integer"; break;
      case Error::Reason::kOutOfRange: out += "attribute '" + e.key + "' is out of range"; break;
      case Error::Reason::kNotBool: out += "attribute '" + e.key + "' is not a boolean"; break;
    }
    out += ": '" + e.value + "'";
  }
  return out;
}

}  // namespace wa::binary
