// Sends one RFC 5322 message over SMTP with libcurl: smtp:// (plain, or STARTTLS when
// `starttls` — then required: a server without it is an error, never a silent plaintext send),
// smtps:// (TLS from the first byte), AUTH when a user name is set, certificate and host name
// verification always on, and connect and total timeouts. Blocking: call it on a blocking pool
// (the notifier does), never on a network thread.
#pragma once

#include <chrono>
#include <string>

#include "base/result.h"

namespace gateway::notify {

struct SmtpOptions {
  std::string url;  // smtp://host:587, smtps://host:465 (a path sets the EHLO name)
  std::string username;
  std::string password;
  bool starttls = false;
  std::string ca_file;  // extra trusted CA (PEM) instead of the system's bundle; tests
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds timeout{30000};
};

// The sending seam: the notifier takes any Sender, tests pass a fake.
class Sender {
 public:
  virtual ~Sender() = default;
  // Hands `message` (CRLF line ends) to the server for `rcpt`, envelope sender `mail_from`.
  // The error is one line for the outbox's last_error.
  virtual base::Result<void, std::string> Send(const std::string& mail_from, const std::string& rcpt,
                                               const std::string& message) = 0;
};

class Mailer final : public Sender {
 public:
  explicit Mailer(SmtpOptions options);
  base::Result<void, std::string> Send(const std::string& mail_from, const std::string& rcpt,
                                       const std::string& message) override;

 private:
  SmtpOptions options_;
};

// smtp:// or smtps:// with a host; false otherwise.
bool ValidSmtpUrl(const std::string& url);

}  // namespace gateway::notify
