// The binary node: WhatsApp's XML-like stanza (tag, ordered attributes, content) that the codec
// reads and writes. Spec: shared/protocol/01-connection.md section 4.
//
// Attribute values and string content are Values: the text Baileys shows, plus how the value
// travels. A Value built from text is encoded by Baileys' writeString rules (token, packed, JID if
// it contains '@', else raw), so nodes built from strings encode byte-exactly as Baileys' do. A
// Value built from a Jid is written as that JID's form. The decoder keeps the wire form: JIDs come
// back as JID Values (an AD_JID with device 0 reads "user@s.whatsapp.net" but is written back as
// AD_JID) and raw strings as raw Values, so decode -> encode reproduces Baileys' bytes exactly.
// Spec: docs/protocol/binary-nodes.md
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "wa/binary/jid.h"

namespace wa::binary {

namespace detail {
struct ValueAccess;  // the decoder fills Values in place (decoder.cc)
}  // namespace detail

// Texts up to kInlineCapacity bytes live inside the Value (device JIDs such as
// "491701234567:12@s.whatsapp.net" and most ids fit), so decoding a stanza allocates for few of
// its values. As with std::string, text() views the Value itself: moving or assigning the Value
// (a vector of attributes growing, a node moved) invalidates views taken before.
class Value {
 public:
  enum class Kind : std::uint8_t {
    kText,  // encoded by Baileys' writeString rules
    kRaw,   // always a BINARY_n string (decoded from one)
    kJid,   // a typed JID
  };
  static constexpr std::size_t kInlineCapacity = 40;

  Value() noexcept {}  // not "= default": value-initialisation would zero the inline buffer first
  Value(std::string_view text) { SetText(text); }                    // NOLINT: implicit on purpose
  Value(const std::string& text) : Value(std::string_view(text)) {}  // NOLINT
  Value(const char* text) : Value(std::string_view(text)) {}         // NOLINT
  Value(const Jid& jid);                                             // NOLINT
  static Value Raw(std::string_view text);

  Value(const Value& other);
  Value(Value&& other) noexcept
      : size_(other.size_),
        kind_(other.kind_),
        form_(other.form_),
        agent_(other.agent_),
        device_(other.device_),
        integrator_(other.integrator_),
        user_offset_(other.user_offset_),
        user_size_(other.user_size_),
        server_offset_(other.server_offset_) {
    if (size_ > kInlineCapacity) {
      heap_ = other.heap_;
    } else if (size_ != 0) {
      std::memcpy(inline_, other.inline_, size_);
    }
    other.size_ = 0;
  }
  Value& operator=(const Value& other);
  Value& operator=(Value&& other) noexcept;
  ~Value() { Release(); }

  Kind kind() const { return kind_; }
  // What Baileys shows for this value (for a JID: Jid::ToString()).
  std::string_view text() const { return {size_ > kInlineCapacity ? heap_ : inline_, size_}; }
  bool is_jid() const { return kind_ == Kind::kJid; }
  // The JID of a typed value; nullopt for text.
  std::optional<Jid> jid() const;

  // Parts of a typed JID without building a Jid (for the encoder). Only valid when is_jid().
  Jid::Form jid_form() const { return form_; }
  std::string_view jid_user() const { return text().substr(user_offset_, user_size_); }
  std::string_view jid_server() const { return text().substr(server_offset_); }
  std::uint8_t jid_agent() const { return agent_; }
  std::uint16_t jid_device() const { return device_; }
  std::uint16_t jid_integrator() const { return integrator_; }

  // For decoders: a typed JID whose text was already rendered (Jid::AppendTo layout).
  struct JidParts {
    Jid::Form form;
    std::uint8_t agent;
    std::uint16_t device;
    std::uint16_t integrator;
    std::size_t user_offset;
    std::size_t user_size;
    std::size_t server_offset;
  };
  static Value FromRenderedJid(std::string_view text, const JidParts& parts);

  // Text and raw values are equal when their texts are (raw is a wire hint); a JID equals only a
  // JID with the same fields.
  friend bool operator==(const Value& a, const Value& b);

 private:
  friend struct detail::ValueAccess;

  // Replaces the text (kind and JID facts unchanged).
  void SetText(std::string_view text);
  void SetJidParts(const JidParts& parts);
  void Release() {
    if (size_ > kInlineCapacity) delete[] heap_;
    size_ = 0;
  }

  // The text: inline_ when size_ <= kInlineCapacity, else heap_ (exactly size_ bytes).
  union {
    char inline_[kInlineCapacity];
    char* heap_;
  };
  std::uint32_t size_ = 0;
  Kind kind_ = Kind::kText;
  Jid::Form form_ = Jid::Form::kPair;
  std::uint8_t agent_ = 0;
  std::uint16_t device_ = 0;
  std::uint16_t integrator_ = 0;
  std::uint8_t user_offset_ = 0;  // "integrator-" of an INTEROP_JID: at most 6 characters
  std::uint32_t user_size_ = 0;
  std::uint32_t server_offset_ = 0;
};

std::ostream& operator<<(std::ostream& os, const Value& value);

struct Attr {
  std::string key;
  Value value;

  // Constructors rather than an aggregate so that a default-constructed Attr (a decoder's
  // emplace_back()) is not zero-filled first; {key, value} works as before.
  Attr() noexcept {}
  Attr(std::string key, Value value) : key(std::move(key)), value(std::move(value)) {}
  friend bool operator==(const Attr&, const Attr&) = default;
};

class AttrReader;

struct Node {
  using Children = std::vector<Node>;
  // none | child nodes | bytes (BINARY_n content) | string (token, packed or JID content).
  using Content = std::variant<std::monostate, Children, base::Bytes, Value>;

  std::string tag;
  std::vector<Attr> attrs;  // wire order; duplicates are kept (lookups see the last one)
  Content content;

  Node() noexcept {}  // not "= default": value-initialisation would zero the whole node first
  explicit Node(std::string tag, std::vector<Attr> attrs = {});
  Node(std::string tag, std::vector<Attr> attrs, Children children);
  Node(std::string tag, std::vector<Attr> attrs, base::Bytes bytes);
  Node(std::string tag, std::vector<Attr> attrs, Value text);

  // Attributes. The last occurrence of a key wins, as in Baileys (JS object) and whatsmeow (map).
  const Value* FindAttr(std::string_view key) const;
  std::optional<std::string_view> GetAttr(std::string_view key) const;
  std::string_view AttrOr(std::string_view key, std::string_view fallback = {}) const;
  // A typed JID attribute, or a text attribute that parses as a JID.
  std::optional<Jid> GetJid(std::string_view key) const;
  bool HasAttr(std::string_view key) const { return FindAttr(key) != nullptr; }
  // Replaces the last occurrence of `key`, or appends.
  void SetAttr(std::string_view key, Value value);
  AttrReader Attrs() const;

  // Content.
  bool has_content() const { return !std::holds_alternative<std::monostate>(content); }
  bool has_children() const { return std::holds_alternative<Children>(content); }
  // Child nodes (empty when the content is not a list).
  std::span<const Node> children() const;
  Children* mutable_children();  // turns the content into a list if it is not one
  const base::Bytes* bytes() const { return std::get_if<base::Bytes>(&content); }
  const Value* text() const { return std::get_if<Value>(&content); }
  // Textual content in either form: a string Value, or bytes read as characters. The same text
  // arrives as bytes when it is not a token, packable or a JID (01-connection.md section 4.2).
  std::optional<std::string_view> ContentText() const;
  // Content bytes in either form (bytes, or the text of a string Value).
  std::optional<base::ByteView> ContentBytes() const;

  const Node* Child(std::string_view tag) const;  // first child with this tag
  std::vector<const Node*> ChildrenByTag(std::string_view tag) const;

  // Structural equality: tags, attributes in order, content (Value equality above).
  friend bool operator==(const Node& a, const Node& b);
};

std::ostream& operator<<(std::ostream& os, const Node& node);  // ToXml(node)

// Reads many attributes and checks for errors once (whatsmeow's AttrUtility): every failed read
// returns a default value and records why.
class AttrReader {
 public:
  struct Error {
    enum class Reason : std::uint8_t { kMissing, kNotJid, kNotInteger, kOutOfRange, kNotBool };
    std::string key;
    Reason reason;
    std::string value;  // the offending text (empty when missing)
  };

  explicit AttrReader(const Node& node) : node_(&node) {}

  std::string_view String(std::string_view key);
  std::optional<std::string_view> OptionalString(std::string_view key);
  Jid GetJid(std::string_view key);
  std::optional<Jid> OptionalJid(std::string_view key);
  std::int64_t Int64(std::string_view key);
  std::optional<std::int64_t> OptionalInt64(std::string_view key);
  std::uint64_t Uint64(std::string_view key);
  std::optional<std::uint64_t> OptionalUint64(std::string_view key);
  // "true"/"1" and "false"/"0".
  bool Bool(std::string_view key);
  std::optional<bool> OptionalBool(std::string_view key);

  bool ok() const { return errors_.empty(); }
  const std::vector<Error>& errors() const { return errors_; }
  // "missing attribute 'id'; attribute 't' is not an integer: 'x'".
  std::string ErrorText() const;

 private:
  std::optional<std::string_view> Lookup(std::string_view key, bool required);
  void Fail(std::string_view key, Error::Reason reason, std::string_view value);

  const Node* node_;
  std::vector<Error> errors_;
};

}  // namespace wa::binary
