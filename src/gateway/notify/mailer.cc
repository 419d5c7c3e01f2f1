#include "gateway/notify/mailer.h"

#include <curl/curl.h>

#include <cstring>
#include <memory>
#include <mutex>

namespace gateway::notify {

namespace {

// curl_global_init is not thread-safe before 7.84 (Debian 12 has 7.88, but be explicit).
void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Reader {
  const std::string* data;
  std::size_t offset = 0;
};

std::size_t Read(char* buffer, std::size_t size, std::size_t nitems, void* userdata) {
  auto* r = static_cast<Reader*>(userdata);
  std::size_t room = size * nitems;
  std::size_t left = r->data->size() - r->offset;
  std::size_t n = std::min(room, left);
  std::memcpy(buffer, r->data->data() + r->offset, n);
  r->offset += n;
  return n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

bool ValidSmtpUrl(const std::string& url) {
  for (const char* scheme : {"smtp://", "smtps://"}) {
    std::size_t n = std::strlen(scheme);
    if (url.compare(0, n, scheme) == 0 && url.size() > n && url[n] != '/' && url[n] != ':') return true;
  }
  return false;
}

Mailer::Mailer(SmtpOptions options) : options_(std::move(options)) { GlobalInit(); }

base::Result<void, std::string> Mailer::Send(const std::string& mail_from, const std::string& rcpt,
                                             const std::string& message) {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return std::string("libcurl: cannot create a handle");
  CURL* c = curl.get();
  char errbuf[CURL_ERROR_SIZE] = {0};
  std::string from = "<" + mail_from + ">";
  std::unique_ptr<curl_slist, SlistDeleter> rcpts(curl_slist_append(nullptr, ("<" + rcpt + ">").c_str()));
  Reader reader{&message};

  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_URL, options_.url.c_str());
  // Only SMTP: a configured URL can never make this handle speak another protocol.
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts.get());
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, &Read);
  curl_easy_setopt(c, CURLOPT_READDATA, &reader);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // pool threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (options_.starttls && options_.url.rfind("smtp://", 0) == 0) {
    curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  }
  if (!options_.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, options_.password.c_str());
  }

  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) return {};
  long reply = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
  std::string why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  if (reply > 0) why += " (last SMTP reply " + std::to_string(reply) + ")";
  return "smtp: " + why;
}

}  // namespace gateway::notify
