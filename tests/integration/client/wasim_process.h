// Test driver for a real wasim process (STYLE.md: wasim drivers expose WaitForX helpers that
// return a result to check): starts `WA_WASIM_BIN --port 0 --control-port 0 --data-dir <tmp>`,
// reads the endpoints it prints, talks to its control API over HTTP, and always stops the
// process and removes the data dir.
#pragma once

#include <boost/json.hpp>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace wa::itest {

struct HttpResponse {
  int status = 0;  // 0: no answer (connection failed or timed out)
  std::string body;
  boost::json::value Json() const;
};

// One blocking HTTP/1.1 request with a deadline.
HttpResponse HttpRequest(const std::string& method, const std::string& url,
                         const std::string& body = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

class Wasim {
 public:
  // nullptr (with the reason in *error) when WA_WASIM_BIN is unset or wasim does not start
  // within 10 s.
  static std::unique_ptr<Wasim> Start(std::string* error);
  ~Wasim();

  const std::string& chat_url() const { return chat_url_; }       // ws://127.0.0.1:PORT/ws/chat
  std::string tls_chat_url() const;                                // wss://localhost:PORT/ws/chat
  const std::string& control_url() const { return control_url_; }
  const std::string& root_key_hex() const { return root_key_hex_; }
  const std::string& cert_path() const { return cert_path_; }

  HttpResponse Control(const std::string& method, const std::string& path,
                       const boost::json::value& body = nullptr,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  bool alive() const;

 private:
  Wasim() = default;
  pid_t pid_ = -1;
  std::string data_dir_;
  std::string chat_url_, control_url_, root_key_hex_, cert_path_;
};

}  // namespace wa::itest
