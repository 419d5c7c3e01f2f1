#include "gateway/api/qr_image.h"

#include <png.h>
#include <qrencode.h>

#include <memory>
#include <vector>

namespace gateway::api {

namespace {

constexpr int kQuiet = 4;

struct Matrix {
  int width = 0;
  std::vector<bool> dark;
  bool At(int x, int y) const { return dark[static_cast<std::size_t>(y) * width + x]; }
};

std::optional<Matrix> Encode(std::string_view text) {
  std::string s(text);
  std::unique_ptr<QRcode, void (*)(QRcode*)> code(
      QRcode_encodeString8bit(s.c_str(), 0, QR_ECLEVEL_L), QRcode_free);
  if (!code) return std::nullopt;
  Matrix m;
  m.width = code->width;
  m.dark.resize(static_cast<std::size_t>(code->width) * code->width);
  for (std::size_t i = 0; i < m.dark.size(); ++i) m.dark[i] = (code->data[i] & 1) != 0;
  return m;
}

}  // namespace

std::optional<std::string> QrSvg(std::string_view text) {
  auto m = Encode(text);
  if (!m) return std::nullopt;
  int size = m->width + 2 * kQuiet;
  std::string path;
  for (int y = 0; y < m->width; ++y) {
    for (int x = 0; x < m->width; ++x) {
      if (!m->At(x, y)) continue;
      int run = 1;
      while (x + run < m->width && m->At(x + run, y)) ++run;
      path += "M" + std::to_string(x + kQuiet) + " " + std::to_string(y + kQuiet) + "h" +
              std::to_string(run) + "v1h-" + std::to_string(run) + "z";
      x += run - 1;
    }
  }
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + std::to_string(size) + " " +
         std::to_string(size) + "\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" "
         "fill=\"#fff\"/><path fill=\"#000\" d=\"" + path + "\"/></svg>\n";
}

std::optional<std::string> QrPng(std::string_view text, int scale) {
  auto m = Encode(text);
  if (!m) return std::nullopt;
  int size = (m->width + 2 * kQuiet) * scale;
  std::vector<png_byte> pixels(static_cast<std::size_t>(size) * size, 0xFF);
  for (int y = 0; y < m->width; ++y) {
    for (int x = 0; x < m->width; ++x) {
      if (!m->At(x, y)) continue;
      for (int dy = 0; dy < scale; ++dy) {
        std::size_t row = static_cast<std::size_t>((y + kQuiet) * scale + dy) * size;
        for (int dx = 0; dx < scale; ++dx) pixels[row + (x + kQuiet) * scale + dx] = 0;
      }
    }
  }
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(size);
  image.height = static_cast<png_uint_32>(size);
  image.format = PNG_FORMAT_GRAY;
  png_alloc_size_t bytes = 0;
  if (!png_image_write_to_memory(&image, nullptr, &bytes, 0, pixels.data(), 0, nullptr)) return std::nullopt;
  std::string out(bytes, '\0');
  if (!png_image_write_to_memory(&image, out.data(), &bytes, 0, pixels.data(), 0, nullptr)) return std::nullopt;
  out.resize(bytes);
  return out;
}

}  // namespace gateway::api
