#include "wa/client/stanzas.h"

namespace wa::client::stanzas {

namespace {

using binary::Attr;

constexpr std::string_view kServer = "@s.whatsapp.net";

base::Bytes Copy(base::ByteView b) { return base::Bytes(b.begin(), b.end()); }

Node BytesNode(std::string tag, base::ByteView b) { return Node(std::move(tag), {}, Copy(b)); }

Node KeyIdNode(std::uint32_t id) {
  auto encoded = signal::EncodeKeyId(id);
  base::Bytes bytes = encoded ? Copy(*encoded) : base::Bytes(3, 0);
  return Node("id", {}, std::move(bytes));
}

Node SignedPreKeyNode(const signal::SignedPreKey& key) {
  return Node("skey", {},
              Node::Children{KeyIdNode(key.id), BytesNode("value", key.key_pair.public_key),
                             BytesNode("signature", key.signature)});
}

}  // namespace

Node IqResult(std::string_view id) {
  return Node("iq", {{"to", kServer}, {"type", "result"}, {"id", std::string(id)}});
}

Node IqError(std::string_view id, int code, std::string_view text) {
  return Node("iq", {{"to", kServer}, {"type", "error"}, {"id", std::string(id)}},
              Node::Children{Node("error", {{"code", std::to_string(code)}, {"text", std::string(text)}})});
}

Node PreKeyCount() {
  return Node("iq", {{"id", ""}, {"xmlns", "encrypt"}, {"type", "get"}, {"to", kServer}},
              Node::Children{Node("count")});
}

Node PreKeyUpload(std::uint32_t registration_id, const crypto::Key32& identity,
                  std::span<const signal::PreKey> pre_keys,
                  const signal::SignedPreKey& signed_pre_key) {
  Node::Children list;
  list.reserve(pre_keys.size());
  for (const auto& key : pre_keys) {
    list.push_back(Node("key", {},
                        Node::Children{KeyIdNode(key.id),
                                       BytesNode("value", key.key_pair.public_key)}));
  }
  auto regid = signal::EncodeRegistrationId(registration_id);
  return Node(
      "iq", {{"xmlns", "encrypt"}, {"type", "set"}, {"to", kServer}, {"id", ""}},
      Node::Children{
          BytesNode("registration", regid),
          Node("type", {}, base::Bytes{signal::kKeyType}),
          BytesNode("identity", identity),
          Node("list", {}, std::move(list)), SignedPreKeyNode(signed_pre_key)});
}

Node Digest() {
  return Node("iq", {{"to", kServer}, {"type", "get"}, {"xmlns", "encrypt"}, {"id", ""}},
              Node::Children{Node("digest")});
}

Node RotateSignedPreKey(const signal::SignedPreKey& signed_pre_key) {
  return Node("iq", {{"to", kServer}, {"type", "set"}, {"xmlns", "encrypt"}, {"id", ""}},
              Node::Children{Node("rotate", {}, Node::Children{SignedPreKeyNode(signed_pre_key)})});
}

Node Passive(bool active) {
  return Node("iq", {{"to", kServer}, {"xmlns", "passive"}, {"type", "set"}, {"id", ""}},
              Node::Children{Node(active ? "active" : "passive")});
}

Node Ping() {
  return Node("iq", {{"id", ""}, {"to", kServer}, {"type", "get"}, {"xmlns", "w:p"}},
              Node::Children{Node("ping")});
}

Node UnifiedSession(std::string_view id) {
  return Node("ib", {}, Node::Children{Node("unified_session", {{"id", std::string(id)}})});
}

std::string UnifiedSessionId(std::int64_t now_unix_ms, std::int64_t server_offset_ms) {
  constexpr std::int64_t kDay = 24LL * 3600 * 1000;
  std::int64_t id = (now_unix_ms + server_offset_ms + 3 * kDay) % (7 * kDay);
  if (id < 0) id += 7 * kDay;
  return std::to_string(id);
}

Node OfflineBatch(int count) {
  return Node("ib", {}, Node::Children{Node("offline_batch", {{"count", std::to_string(count)}})});
}

Node PairDeviceSign(std::string_view id, std::uint32_t key_index,
                    base::ByteView signed_identity) {
  return Node("iq", {{"to", kServer}, {"type", "result"}, {"id", std::string(id)}},
              Node::Children{Node(
                  "pair-device-sign", {},
                  Node::Children{Node("device-identity",
                                      {{"key-index", std::to_string(key_index)}},
                                      Copy(signed_identity))})});
}

Node RemoveCompanionDevice(const Jid& me) {
  return Node("iq", {{"to", kServer}, {"type", "set"}, {"id", ""}, {"xmlns", "md"}},
              Node::Children{Node("remove-companion-device",
                                  {{"jid", me}, {"reason", "user_initiated"}})});
}

Node LinkCodeCompanionHello(const Jid& phone, base::ByteView wrapped_ephemeral,
                            const crypto::Key32& noise_public, std::string_view platform_id,
                            std::string_view platform_display) {
  return Node(
      "iq", {{"to", kServer}, {"type", "set"}, {"id", ""}, {"xmlns", "md"}},
      Node::Children{Node(
          "link_code_companion_reg",
          {{"jid", phone}, {"stage", "companion_hello"}, {"should_show_push_notification", "true"}},
          Node::Children{
              BytesNode("link_code_pairing_wrapped_companion_ephemeral_pub", wrapped_ephemeral),
              BytesNode("companion_server_auth_key_pub", noise_public),
              Node("companion_platform_id", {}, binary::Value(std::string(platform_id))),
              Node("companion_platform_display", {}, binary::Value(std::string(platform_display))),
              Node("link_code_pairing_nonce", {}, binary::Value("0"))})});
}

Node LinkCodeCompanionFinish(const Jid& phone, base::ByteView wrapped_key_bundle,
                             const crypto::Key32& identity_public, base::ByteView ref) {
  return Node("iq", {{"to", kServer}, {"type", "set"}, {"id", ""}, {"xmlns", "md"}},
              Node::Children{Node(
                  "link_code_companion_reg", {{"jid", phone}, {"stage", "companion_finish"}},
                  Node::Children{BytesNode("link_code_pairing_wrapped_key_bundle", wrapped_key_bundle),
                                 BytesNode("companion_identity_public", identity_public),
                                 BytesNode("link_code_pairing_ref", ref)})});
}

Node Ack(const Node& stanza) {
  std::vector<Attr> attrs;
  attrs.push_back({"id", binary::Value(std::string(stanza.AttrOr("id")))});
  if (const binary::Value* from = stanza.FindAttr("from")) {
    attrs.push_back({"to", *from});
  }
  attrs.push_back({"class", binary::Value(stanza.tag)});
  for (std::string_view key : {"participant", "recipient", "type"}) {
    if (const binary::Value* v = stanza.FindAttr(key); v && !v->text().empty()) {
      attrs.push_back({std::string(key), *v});
    }
  }
  return Node("ack", std::move(attrs));
}

}  // namespace wa::client::stanzas
