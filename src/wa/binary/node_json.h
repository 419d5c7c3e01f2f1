// The JSON notation of nodes used by the protocol vectors and the Baileys cross-checks:
//   {"tag": t, "attrs": [[k, v], ...], "content": null | {"string": s} | {"bytes_hex": h} | [nodes]}
// Header-only, for tests and tools (they link Boost::json; the codec library does not).
// Reading gives text Values (Baileys' writeString rules apply when encoding); writing shows what
// Baileys' decoder would return: the text of every Value, bytes as hex.
#pragma once

#include <optional>
#include <string>

#include <boost/json.hpp>

#include "base/bytes.h"
#include "wa/binary/node.h"

namespace wa::binary {

// nullopt if `v` is not in the notation (or has bad hex).
inline std::optional<Node> NodeFromJson(const boost::json::value& v) {
  const auto* obj = v.if_object();
  if (!obj) return std::nullopt;
  const auto* tag = obj->if_contains("tag");
  if (!tag || !tag->is_string()) return std::nullopt;
  Node node(std::string(tag->get_string()));
  if (const auto* attrs = obj->if_contains("attrs"); attrs && !attrs->is_null()) {
    if (!attrs->is_array()) return std::nullopt;
    for (const auto& pair : attrs->get_array()) {
      const auto* kv = pair.if_array();
      if (!kv || kv->size() != 2 || !(*kv)[0].is_string() || !(*kv)[1].is_string()) return std::nullopt;
      node.attrs.push_back(Attr{std::string((*kv)[0].get_string()), Value(std::string((*kv)[1].get_string()))});
    }
  }
  const auto* content = obj->if_contains("content");
  if (!content || content->is_null()) return node;
  if (content->is_array()) {
    Node::Children children;
    for (const auto& child : content->get_array()) {
      auto c = NodeFromJson(child);
      if (!c) return std::nullopt;
      children.push_back(std::move(*c));
    }
    node.content = std::move(children);
    return node;
  }
  const auto* c = content->if_object();
  if (!c) return std::nullopt;
  if (const auto* s = c->if_contains("string"); s && s->is_string()) {
    node.content = Value(std::string(s->get_string()));
    return node;
  }
  if (const auto* h = c->if_contains("bytes_hex"); h && h->is_string()) {
    auto bytes = base::FromHex(h->get_string());
    if (!bytes) return std::nullopt;
    node.content = std::move(*bytes);
    return node;
  }
  return std::nullopt;
}

inline boost::json::value NodeToJson(const Node& node) {
  boost::json::object obj;
  obj["tag"] = node.tag;
  boost::json::array attrs;
  for (const Attr& a : node.attrs) {
    attrs.push_back(boost::json::array{boost::json::string(a.key), boost::json::string(a.value.text())});
  }
  obj["attrs"] = std::move(attrs);
  if (const auto* children = std::get_if<Node::Children>(&node.content)) {
    boost::json::array arr;
    for (const Node& child : *children) arr.push_back(NodeToJson(child));
    obj["content"] = std::move(arr);
  } else if (const auto* bytes = node.bytes()) {
    obj["content"] = boost::json::object{{"bytes_hex", base::ToHex(*bytes)}};
  } else if (const auto* text = node.text()) {
    obj["content"] = boost::json::object{{"string", text->text()}};
  } else {
    obj["content"] = nullptr;
  }
  return obj;
}

}  // namespace wa::binary
