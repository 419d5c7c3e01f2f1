// Helpers shared by wa_client's unit tests: vector loading (read at run time from
// WA_SHARED_DIR/protocol/vectors) and hex conversions.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "base/bytes.h"
#include "wa/binary/decoder.h"
#include "wa/crypto/crypto.h"

namespace wa::client::testing {

inline boost::json::value LoadVector(std::string_view name) {
  std::ifstream in(std::string(WA_SHARED_DIR) + "/protocol/vectors/" + std::string(name));
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return boost::json::parse(ss.str());
}

inline base::Bytes Hex(std::string_view s) {
  auto b = base::FromHex(s);
  EXPECT_TRUE(b.has_value()) << s;
  return b.value_or(base::Bytes{});
}
inline base::Bytes Hex(const boost::json::value& v) { return Hex(std::string_view(v.as_string())); }

inline crypto::Key32 Key(const boost::json::value& v) {
  auto b = Hex(v);
  crypto::Key32 k{};
  EXPECT_EQ(b.size(), 32u);
  std::copy_n(b.begin(), std::min<std::size_t>(32, b.size()), k.begin());
  return k;
}

inline crypto::KeyPair Pair(const boost::json::value& v) {
  return {Key(v.at("private")), Key(v.at("public"))};
}

// The named vector of connection-nodes.json.
inline const boost::json::value& ConnectionNode(const boost::json::value& file, std::string_view name) {
  for (const auto& v : file.at("vectors").as_array()) {
    if (v.at("name").as_string() == name) return v;
  }
  ADD_FAILURE() << "no vector " << name;
  static const boost::json::value kNull;
  return kNull;
}

inline binary::Node DecodeHex(std::string_view hex) {
  auto node = binary::Decode(Hex(hex));
  EXPECT_TRUE(node.has_value());
  return node ? std::move(*node) : binary::Node("invalid");
}

}  // namespace wa::client::testing
