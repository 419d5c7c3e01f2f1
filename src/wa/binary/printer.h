// Readable XML-like rendering of nodes for logs and test failures:
//   <iq id="47123.1234-7" to="@s.whatsapp.net" type="get" xmlns="w:p"><ping/></iq>
// Byte content is shown as hex (cut after PrintOptions::max_bytes), text is escaped and cut after
// max_text characters. Not a parser format: nothing reads it back.
#pragma once

#include <cstddef>
#include <string>

#include "wa/binary/node.h"

namespace wa::binary {

struct PrintOptions {
  std::size_t max_bytes = 64;   // byte content shown in hex up to this many bytes
  std::size_t max_text = 512;   // attribute values and text content cut after this many bytes
  bool indent = false;          // one element per line, two spaces per level
};

std::string ToXml(const Node& node, const PrintOptions& options = {});

}  // namespace wa::binary
