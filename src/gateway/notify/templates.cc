#include "gateway/notify/templates.h"

#include <fmt/format.h>

#include "gateway/notify/message.h"

namespace gateway::notify {

namespace {

std::string Trimmed(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::string SessionLabel(const AlertFacts& f) {
  return f.session_name.empty() ? f.session_id : f.session_name;
}

std::string UtcTime(std::int64_t ms) {
  std::string rfc = RfcDate(ms);  // "Wed, 01 Jan 2025 12:00:00 +0000"
  return rfc.substr(5, rfc.size() - 5 - 6) + " UTC";
}

// The shared frame of every HTML body; `inner` is already escaped.
std::string HtmlPage(const std::string& title, const std::string& inner) {
  return "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + HtmlEscape(title) +
         "</title></head>\n<body style=\"font-family: sans-serif; line-height: 1.5\">\n" + inner +
         "<p style=\"color: #666; font-size: small\">You receive this because you own this "
         "whatsappAPI account.</p>\n</body></html>\n";
}

std::string Link(const std::string& url, const std::string& label) {
  return "<a href=\"" + HtmlEscape(url) + "\">" + HtmlEscape(label) + "</a>";
}

constexpr const char* kFooter = "\n--\nYou receive this because you own this whatsappAPI account.\n";

}  // namespace

const char* KindName(AlertKind kind) {
  switch (kind) {
    case AlertKind::kLoggedOut: return "logged_out";
    case AlertKind::kDisconnected: return "disconnected";
    case AlertKind::kEndpointDisabled: return "endpoint_disabled";
    case AlertKind::kQuota80: return "quota_80";
    case AlertKind::kQuota100: return "quota_100";
  }
  return "unknown";
}

std::string RelinkUrl(const std::string& public_url, const std::string& session_id) {
  return Trimmed(public_url) + "/sessions/" + session_id;
}

Content RenderAlert(const AlertFacts& f) {
  Content c;
  const std::string label = SessionLabel(f);
  const std::string phone = f.session_phone.empty() ? "" : " (+" + f.session_phone + ")";
  switch (f.kind) {
    case AlertKind::kLoggedOut: {
      std::string url = RelinkUrl(f.public_url, f.session_id);
      c.subject = "Re-link " + label + ": the session was logged out";
      c.text = fmt::format(
          "Your WhatsApp session \"{}\"{} ({}) was logged out{}.\n\n"
          "It no longer sends or receives messages; messages waiting in its queue fail if it is not\n"
          "re-linked soon. To re-link it, open\n\n  {}\n\nand scan the QR code with the phone.\n{}",
          label, phone, f.session_id, f.reason.empty() ? "" : " (reason: " + f.reason + ")", url, kFooter);
      c.html = HtmlPage(
          c.subject,
          fmt::format("<p>Your WhatsApp session <strong>{}</strong>{} (<code>{}</code>) was logged out{}.</p>\n"
                      "<p>It no longer sends or receives messages; messages waiting in its queue fail if "
                      "it is not re-linked soon.</p>\n<p>{}</p>\n",
                      HtmlEscape(label), HtmlEscape(phone), HtmlEscape(f.session_id),
                      f.reason.empty() ? "" : " (reason: " + HtmlEscape(f.reason) + ")",
                      Link(url, "Re-link " + label)));
      break;
    }
    case AlertKind::kDisconnected: {
      std::string url = RelinkUrl(f.public_url, f.session_id);
      c.subject = fmt::format("{} has been disconnected for {} minutes", label, f.minutes);
      c.text = fmt::format(
          "Your WhatsApp session \"{}\"{} ({}) has been unable to reconnect since {}{}.\n\n"
          "The gateway keeps trying. If the phone is offline, switched off or has no data, bring it\n"
          "back online; if the problem persists, check the session at\n\n  {}\n{}",
          label, phone, f.session_id, UtcTime(f.since_ms), f.reason.empty() ? "" : " (last error: " + f.reason + ")",
          url, kFooter);
      c.html = HtmlPage(
          c.subject,
          fmt::format("<p>Your WhatsApp session <strong>{}</strong>{} (<code>{}</code>) has been unable "
                      "to reconnect since {}{}.</p>\n<p>The gateway keeps trying. If the phone is offline, "
                      "switched off or has no data, bring it back online.</p>\n<p>{}</p>\n",
                      HtmlEscape(label), HtmlEscape(phone), HtmlEscape(f.session_id), UtcTime(f.since_ms),
                      f.reason.empty() ? "" : " (last error: " + HtmlEscape(f.reason) + ")",
                      Link(url, "Open " + label)));
      break;
    }
    case AlertKind::kEndpointDisabled: {
      std::string url = Trimmed(f.public_url) + "/webhooks/" + f.endpoint_id;
      c.subject = "Webhook endpoint disabled: " + f.endpoint_url;
      c.text = fmt::format(
          "Your webhook endpoint {} ({}) was disabled{}.\n\n"
          "Events for it are kept and wait. When the receiver works again, enable the endpoint\n"
          "(PATCH /v1/webhooks/{} with {{\"enabled\": true}}) or at\n\n  {}\n{}",
          f.endpoint_url, f.endpoint_id, f.reason.empty() ? "" : ": " + f.reason, f.endpoint_id, url, kFooter);
      c.html = HtmlPage(
          c.subject,
          fmt::format("<p>Your webhook endpoint <code>{}</code> (<code>{}</code>) was disabled{}.</p>\n"
                      "<p>Events for it are kept and wait. When the receiver works again, enable the "
                      "endpoint.</p>\n<p>{}</p>\n",
                      HtmlEscape(f.endpoint_url), HtmlEscape(f.endpoint_id),
                      f.reason.empty() ? "" : ": " + HtmlEscape(f.reason), Link(url, "Open the endpoint")));
      break;
    }
    case AlertKind::kQuota80:
    case AlertKind::kQuota100: {
      bool full = f.kind == AlertKind::kQuota100;
      std::string url = Trimmed(f.public_url) + "/billing";
      c.subject = full ? "Your monthly messages are used up" : "You have used 80 % of your monthly messages";
      std::string what = full ? "New messages are refused (402 plan_limit_messages) until the next month or an upgrade."
                              : "When all are used, new messages are refused until the next month or an upgrade.";
      c.text = fmt::format("Your account has sent {} of the {} messages its {} plan allows this month.\n\n{}\n\n"
                           "Plans: {}\n{}",
                           f.used, f.limit, f.plan, what, url, kFooter);
      c.html = HtmlPage(c.subject,
                        fmt::format("<p>Your account has sent <strong>{}</strong> of the {} messages its "
                                    "<strong>{}</strong> plan allows this month.</p>\n<p>{}</p>\n<p>{}</p>\n",
                                    f.used, f.limit, HtmlEscape(f.plan), HtmlEscape(what),
                                    Link(url, "See the plans")));
      break;
    }
  }
  return c;
}

}  // namespace gateway::notify
