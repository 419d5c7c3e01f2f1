// A QR code's string as an image for the API's `GET .../qr`: SVG (text, scales) or PNG, from
// libqrencode's matrix (error correction L, as WhatsApp Web's own QR) with a 4-module quiet zone.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gateway::api {

std::optional<std::string> QrSvg(std::string_view text);
// `scale` pixels per module.
std::optional<std::string> QrPng(std::string_view text, int scale = 8);

}  // namespace gateway::api
