// The server side of tests/interop/noise_interop.mjs: our wa::noise Responder over stdin/stdout,
// talking to Baileys' noise handler as the initiator.
//
//   noise_responder --root-private HEX [--frames N] [--intermediate-issuer SERIAL]
//
// 1. Reads the intro header and client hello, answers with a server hello whose certificate chain
//    is rooted at HEX (the Node side points Baileys' WA_CERT_DETAILS at that root, or, in the
//    negative runs, at another one). --intermediate-issuer signs an otherwise valid chain whose
//    intermediate names another issuer than the root's serial 0.
// 2. Reads the client finish, then sends one transport frame reporting what it learned (client
//    static key || SHA-256(ClientPayload) || routing info) so the Node side can check it.
// 3. Sends N frames (some split across several writes, some coalesced into one write), then reads
//    N frames and checks each one's plaintext byte for byte.
// Every frame is a binary node <noisetest>BYTES</noisetest>, since Baileys decodes what it receives
// as a node. Exit 0 when everything checked out; diagnostics on stderr.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>

#include "wa/crypto/crypto.h"
#include "wa/noise/cert_chain.h"
#include "wa/noise/frame.h"
#include "wa/noise/handshake.h"

namespace {

using base::Bytes;
using base::ByteView;
namespace noise = wa::noise;
namespace crypto = wa::crypto;

[[noreturn]] void Die(int code, const std::string& why) {
  std::fprintf(stderr, "noise_responder: %s\n", why.c_str());
  std::exit(code);
}

void WriteAll(ByteView b) {
  while (!b.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, b.data(), b.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Die(4, std::string("write: ") + std::strerror(errno));
    b = b.subspan(static_cast<std::size_t>(n));
  }
}

// Blocks until the reader has a frame; exit 2 on end of input.
Bytes ReadFrame(noise::FrameReader& reader) {
  for (;;) {
    auto next = reader.Next();
    if (!next) Die(3, "frame error: " + next.error().Describe());
    if (*next) return std::move(**next);
    std::uint8_t buf[65536];
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Die(4, std::string("read: ") + std::strerror(errno));
    if (n == 0) Die(2, "end of input at stream offset " + std::to_string(reader.offset()));
    if (auto fed = reader.Feed(ByteView(buf, static_cast<std::size_t>(n))); !fed) {
      Die(3, "frame error: " + fed.error().Describe());
    }
  }
}

// The plaintext Baileys' encodeBinaryNode gives for {tag: 'noisetest', attrs: {}, content}.
Bytes NodeBytes(ByteView content) {
  static constexpr std::string_view kTag = "noisetest";
  const std::size_t n = content.size();
  if (n >= (1u << 20)) Die(5, "content too large for the test");
  // Byte by byte: GCC 12 at -O2 misreads inserts of initializer lists here (-Warray-bounds).
  Bytes out;
  out.reserve(9 + kTag.size() + n);
  auto put = [&out](std::size_t b) { out.push_back(static_cast<std::uint8_t>(b)); };
  for (std::size_t b : {0x00, 0xf8, 0x02, 0xfc}) put(b);
  put(kTag.size());
  for (char c : kTag) put(static_cast<unsigned char>(c));
  if (n < 256) {
    put(0xfc);
    put(n);
  } else {
    put(0xfd);
    put(n >> 16 & 0x0f);
    put(n >> 8 & 0xff);
    put(n & 0xff);
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

// Same definition as noise_interop.mjs's pattern().
Bytes Pattern(std::size_t i, std::uint8_t direction) {
  const std::size_t len = i % 100 == 99 ? 70000 : (i * 7919) % 1500;
  Bytes b(len);
  for (std::size_t j = 0; j < len; ++j) b[j] = static_cast<std::uint8_t>(i * 31 + j * 7 + direction);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  std::string root_hex;
  std::size_t frames = 1000;
  std::uint32_t intermediate_issuer = noise::kRootSerial;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--root-private") root_hex = argv[i + 1];
    else if (flag == "--frames") frames = std::strtoul(argv[i + 1], nullptr, 10);
    else if (flag == "--intermediate-issuer") {
      intermediate_issuer = static_cast<std::uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    }
    else Die(1, "unknown flag " + std::string(flag));
  }
  const auto root_private = base::FromHex(root_hex);
  if (!root_private || root_private->size() != 32) Die(1, "--root-private needs 32 bytes of hex");
  crypto::Key32 root_key;
  std::copy(root_private->begin(), root_private->end(), root_key.begin());

  const crypto::KeyPair root = crypto::KeyPairFromPrivate(root_key);
  const crypto::KeyPair intermediate = crypto::GenerateKeyPair();
  const crypto::KeyPair server_static = crypto::GenerateKeyPair();
  const auto now = static_cast<std::uint64_t>(std::time(nullptr));
  Bytes chain = noise::MakeCertChain(root, intermediate, server_static.public_key,
                                     {.not_before = now - 3600, .not_after = now + 3600});
  if (intermediate_issuer != noise::kRootSerial) {
    auto sign = [](const crypto::Key32& key, const noise::CertDetails& details) {
      noise::SignedCert cert{noise::EncodeCertDetails(details), {}};
      const auto sig = crypto::Sign(key, cert.details);
      cert.signature.assign(sig.begin(), sig.end());
      return cert;
    };
    chain = noise::EncodeCertChain(
        sign(intermediate.private_key, {2, 1, server_static.public_key, now - 3600, now + 3600}),
        sign(root.private_key,
             {1, intermediate_issuer, intermediate.public_key, now - 3600, now + 3600}));
  }

  noise::Responder responder({.static_key = server_static, .cert_chain = chain});
  noise::FrameReader reader({.expect_intro = true});
  noise::FrameWriter writer;

  auto server_hello = responder.ReadClientHello(ReadFrame(reader));
  if (!server_hello) Die(3, "client hello: " + server_hello.error().message());
  WriteAll(writer.Encode(*server_hello).value());

  auto finish = responder.ReadClientFinish(ReadFrame(reader));
  if (!finish) Die(3, "client finish: " + finish.error().message());
  auto ciphers = responder.Split();
  if (!ciphers) Die(3, "split: " + ciphers.error().message());
  reader.SetMaxFrameSize(noise::kMaxFrameSize);
  std::fprintf(stderr, "noise_responder: handshake done, client static %s, payload %zu bytes\n",
               base::ToHex(finish->client_static).c_str(), finish->client_payload.size());

  auto seal = [&](ByteView content) {
    auto c = ciphers->send.Encrypt(NodeBytes(content));
    if (!c) Die(3, "encrypt: " + c.error().message());
    return writer.Encode(*c).value();
  };

  Bytes report(finish->client_static.begin(), finish->client_static.end());
  const auto digest = crypto::Sha256(finish->client_payload);
  report.insert(report.end(), digest.begin(), digest.end());
  report.insert(report.end(), reader.routing_info().begin(), reader.routing_info().end());
  WriteAll(seal(report));

  // Server -> client: frames 0-2 of every ten split into three writes (one cut inside the length
  // prefix), frames 3-7 coalesced into one write, the rest one write each.
  Bytes pending;
  for (std::size_t i = 0; i < frames; ++i) {
    const Bytes wire = seal(Pattern(i, 's'));
    const std::size_t slot = i % 10;
    if (slot <= 2) {
      const ByteView w(wire);
      const std::size_t cut = 1 + w.size() / 2;
      WriteAll(w.first(2));
      WriteAll(w.subspan(2, cut - 2));
      WriteAll(w.subspan(cut));
    } else if (slot <= 7) {
      pending.insert(pending.end(), wire.begin(), wire.end());
      if (slot == 7 || i + 1 == frames) {
        WriteAll(pending);
        pending.clear();
      }
    } else {
      WriteAll(wire);
    }
  }

  // Client -> server.
  for (std::size_t i = 0; i < frames; ++i) {
    const Bytes frame = ReadFrame(reader);
    auto plain = ciphers->recv.Decrypt(frame);
    if (!plain) Die(3, "frame " + std::to_string(i) + ": " + plain.error().message());
    if (*plain != NodeBytes(Pattern(i, 'c'))) {
      Die(3, "frame " + std::to_string(i) + ": unexpected plaintext " + base::ToHex(*plain));
    }
  }
  std::fprintf(stderr, "noise_responder: %zu frames each way checked\n", frames);
  return 0;
}
