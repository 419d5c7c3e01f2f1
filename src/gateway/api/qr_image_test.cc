#include "gateway/api/qr_image.h"

#include <gtest/gtest.h>
#include <png.h>

#include <vector>

namespace gateway::api {
namespace {

constexpr const char* kCode =
    "2@Yk9qZXhhbXBsZQ==,ZDUNb2lzZWtleWZvcnRlc3RzMTIzNDU2Nzg5MDEyMw==,"
    "VHFZaWRlbnRpdHlrZXlmb3J0ZXN0czEyMzQ1Njc4OTA=,W1aNYWR2c2VjcmV0Zm9ydGVzdHMxMjM0NTY3ODk=,1";

TEST(QrImage, SvgIsASquareOfModulesWithAQuietZone) {
  auto svg = QrSvg(kCode);
  ASSERT_TRUE(svg);
  EXPECT_EQ(svg->rfind("<svg ", 0), 0u);
  EXPECT_NE(svg->find("<path fill=\"#000\" d=\"M"), std::string::npos);
  // Version-n codes are 17 + 4n modules wide; with the quiet zone the viewBox is that + 8.
  auto at = svg->find("viewBox=\"0 0 ");
  ASSERT_NE(at, std::string::npos);
  int size = std::stoi(svg->substr(at + 13));
  EXPECT_EQ((size - 8 - 17) % 4, 0) << size;
  EXPECT_GT(size, 8 + 17);
}

TEST(QrImage, PngDecodesToTheSameModules) {
  auto png = QrPng(kCode, 4);
  ASSERT_TRUE(png);
  ASSERT_GE(png->size(), 8u);
  EXPECT_EQ(png->substr(1, 3), "PNG");
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_memory(&image, png->data(), png->size()));
  image.format = PNG_FORMAT_GRAY;
  std::vector<png_byte> pixels(PNG_IMAGE_SIZE(image));
  ASSERT_TRUE(png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr));
  int modules = static_cast<int>(image.width) / 4;
  EXPECT_EQ(image.width, image.height);
  EXPECT_EQ((modules - 8 - 17) % 4, 0);
  // The quiet zone is white; the top-left finder pattern's corner module is black.
  EXPECT_EQ(pixels[0], 0xFF);
  EXPECT_EQ(pixels[(4 * 4 + 1) * image.width + 4 * 4 + 1], 0x00);
  // The same text gives the same SVG module count as the PNG.
  auto svg = QrSvg(kCode);
  EXPECT_NE(svg->find("viewBox=\"0 0 " + std::to_string(modules) + " "), std::string::npos);
}

}  // namespace
}  // namespace gateway::api
