// Versioned schema migrations, applied in order inside one transaction each. Never edit a
// migration that has shipped; add a new one.
#include "gateway/store/store.h"

namespace gateway::store {

const std::vector<Migration>& SqliteMigrations() {
  static const std::vector<Migration> migrations = {
      {1, "meta",
       R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
)sql"},
      // The state of each linked number ("session", keyed by the gateway's session id): the
      // wa::client credentials and the Signal store. Columns named `sealed*` hold
      // 0x01 || nonce(12) || AES-256-GCM ciphertext || tag(16) under a per-session key derived
      // from the master key; the AAD names the table, the session and the row's key, so a value
      // moved to another row fails authentication (gateway/store/sealer.h). Public keys stay in
      // clear. No foreign keys: a session's rows are removed together by one transaction.
      // Tables with large records keep their rowid; small fixed rows are WITHOUT ROWID.
      {2, "session_state",
       R"sql(
CREATE TABLE wa_credentials (
  session_id TEXT PRIMARY KEY,
  sealed     BLOB NOT NULL            -- EncodeCredentials' JSON
) STRICT;

CREATE TABLE wa_identities (
  session_id   TEXT NOT NULL,
  name         TEXT NOT NULL,         -- Signal address name ("<user>" or "<user>_<domain>")
  device       INTEGER NOT NULL,
  identity_key BLOB NOT NULL,         -- 32-byte public key
  PRIMARY KEY (session_id, name, device)
) STRICT, WITHOUT ROWID;

CREATE TABLE wa_signal_sessions (
  session_id TEXT NOT NULL,
  name       TEXT NOT NULL,
  device     INTEGER NOT NULL,
  sealed     BLOB NOT NULL,           -- libsignal session record
  PRIMARY KEY (session_id, name, device)
) STRICT;

CREATE TABLE wa_prekeys (
  session_id         TEXT NOT NULL,
  id                 INTEGER NOT NULL,
  public_key         BLOB NOT NULL,
  sealed_private_key BLOB NOT NULL,
  PRIMARY KEY (session_id, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE wa_signed_prekeys (
  session_id         TEXT NOT NULL,
  id                 INTEGER NOT NULL,
  public_key         BLOB NOT NULL,
  sealed_private_key BLOB NOT NULL,
  signature          BLOB NOT NULL,
  timestamp_ms       INTEGER NOT NULL,
  PRIMARY KEY (session_id, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE wa_sender_keys (
  session_id    TEXT NOT NULL,
  group_id      TEXT NOT NULL,
  sender_name   TEXT NOT NULL,
  sender_device INTEGER NOT NULL,
  sealed        BLOB NOT NULL,        -- libsignal sender key record
  PRIMARY KEY (session_id, group_id, sender_name, sender_device)
) STRICT;
)sql"},
      // Tenants: accounts, their API keys (only a SHA-256 of the secret is kept: keys are 190
      // random bits, so a slow hash adds nothing) and dashboard logins (the cookie's token is
      // kept as a SHA-256 too). Times are unix milliseconds.
      {3, "accounts",
       R"sql(
CREATE TABLE accounts (
  id            TEXT PRIMARY KEY,     -- "acc_" + random
  email         TEXT NOT NULL UNIQUE, -- lower-cased
  password_hash TEXT NOT NULL,        -- libsodium argon2id string
  plan          TEXT NOT NULL,
  suspended     INTEGER NOT NULL DEFAULT 0,
  created_ms    INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,      -- "key_" + random
  account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  prefix       TEXT NOT NULL,         -- the first characters of the secret, for display
  secret_hash  BLOB NOT NULL UNIQUE,  -- SHA-256 of the whole secret
  read_only    INTEGER NOT NULL DEFAULT 0,
  session_ids  TEXT NOT NULL DEFAULT '', -- comma-separated; empty = every session
  created_ms   INTEGER NOT NULL,
  last_used_ms INTEGER,
  revoked_ms   INTEGER
) STRICT;
CREATE INDEX api_keys_by_account ON api_keys(account_id, created_ms);

CREATE TABLE web_sessions (
  token_hash BLOB PRIMARY KEY,        -- SHA-256 of the cookie's token
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX web_sessions_by_account ON web_sessions(account_id);
)sql"},
      // Linked numbers as the API sees them ("sessions"). `desired` is what the owner asked for
      // (running or stopped) and survives restarts; `status` is the last observed state. The
      // session's WhatsApp credentials and Signal state are the wa_* tables, keyed by this id.
      {4, "sessions",
       R"sql(
CREATE TABLE sessions (
  id           TEXT PRIMARY KEY,      -- "ses_" + random
  account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  sandbox      INTEGER NOT NULL DEFAULT 0,
  webhook_url  TEXT NOT NULL DEFAULT '',
  proxy        TEXT NOT NULL DEFAULT '',  -- http://... or socks5://...; secrets sealed later
  min_delay_ms INTEGER NOT NULL,
  max_delay_ms INTEGER NOT NULL,
  daily_limit  INTEGER,                   -- NULL: the plan's
  desired      TEXT NOT NULL,             -- running | stopped
  status       TEXT NOT NULL,
  status_ms    INTEGER NOT NULL,          -- since when
  phone        TEXT NOT NULL DEFAULT '',  -- the linked number's user part
  jid          TEXT NOT NULL DEFAULT '',
  lid          TEXT NOT NULL DEFAULT '',
  created_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_account ON sessions(account_id, id);
)sql"},
      // The event log (store/events.h): what webhooks and live streams deliver, appended in the
      // transaction of the change it reports. AUTOINCREMENT so a pruned seq is never reused.
      {5, "events",
       R"sql(
CREATE TABLE events (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  id         TEXT NOT NULL UNIQUE,      -- "evt_" + random
  account_id TEXT NOT NULL,
  session_id TEXT NOT NULL DEFAULT '',
  type       TEXT NOT NULL,
  data       TEXT NOT NULL,             -- JSON object
  created_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX events_by_session ON events(account_id, session_id, seq);
)sql"},
      // Webhooks (store/webhooks.h): endpoints (secrets sealed under the master key, AAD naming
      // the endpoint), one delivery per (event, endpoint) with the exact body sent, every attempt,
      // per-session counters, and the fan-out cursor in meta ('webhooks_fanout_seq').
      {6, "webhooks",
       R"sql(
CREATE TABLE webhook_endpoints (
  id                TEXT PRIMARY KEY,     -- "whk_" + random
  account_id        TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  session_id        TEXT NOT NULL DEFAULT '',  -- '' = account-wide
  url               TEXT NOT NULL,
  events            TEXT NOT NULL,        -- comma-separated event types
  description       TEXT NOT NULL DEFAULT '',
  sealed_secret     BLOB NOT NULL,
  sealed_previous   BLOB,                 -- the secret before the last rotation
  previous_until_ms INTEGER NOT NULL DEFAULT 0,
  disabled          INTEGER NOT NULL DEFAULT 0,
  disabled_reason   TEXT NOT NULL DEFAULT '',
  failing_since_ms  INTEGER NOT NULL DEFAULT 0,
  created_ms        INTEGER NOT NULL,
  updated_ms        INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_endpoints_by_account ON webhook_endpoints(account_id, id);

CREATE TABLE webhook_deliveries (
  id              TEXT PRIMARY KEY,       -- "dlv_" + random
  endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  account_id      TEXT NOT NULL,
  session_id      TEXT NOT NULL DEFAULT '',
  event_seq       INTEGER NOT NULL,
  event_id        TEXT NOT NULL,
  event_type      TEXT NOT NULL,
  body            TEXT NOT NULL,
  state           TEXT NOT NULL,          -- pending | retrying | delivered | dead
  ordered         INTEGER NOT NULL DEFAULT 1,
  attempts        INTEGER NOT NULL DEFAULT 0,
  window_start_ms INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  last_status     INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT NOT NULL DEFAULT '',
  created_ms      INTEGER NOT NULL,
  updated_ms      INTEGER NOT NULL,
  UNIQUE (endpoint_id, event_seq)
) STRICT;
CREATE INDEX webhook_deliveries_open ON webhook_deliveries(endpoint_id, session_id, event_seq)
  WHERE state IN ('pending', 'retrying') AND ordered = 1;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_ms)
  WHERE state IN ('pending', 'retrying');

CREATE TABLE webhook_attempts (
  delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  n           INTEGER NOT NULL,
  at_ms       INTEGER NOT NULL,
  status_code INTEGER NOT NULL,           -- 0: no HTTP answer
  latency_ms  INTEGER NOT NULL,
  error       TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (delivery_id, n)
) STRICT, WITHOUT ROWID;

CREATE TABLE webhook_session_stats (
  account_id        TEXT NOT NULL,
  session_id        TEXT NOT NULL,
  events            INTEGER NOT NULL DEFAULT 0,
  messages_received INTEGER NOT NULL DEFAULT 0,
  deliveries        INTEGER NOT NULL DEFAULT 0,
  delivered         INTEGER NOT NULL DEFAULT 0,
  dead              INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, session_id)
) STRICT, WITHOUT ROWID;

INSERT INTO meta(key, value) VALUES('webhooks_fanout_seq', '0');
)sql"},
      // Migration 6 is the webhooks'. Messages: the outbox of every session and what it
      // received, with each status change (store/messages.h); idempotency keys of the send
      // route; monthly message counts per account for the plan limit.
      {7, "messages",
       R"sql(
CREATE TABLE messages (
  n            INTEGER PRIMARY KEY AUTOINCREMENT,  -- queue order and list cursor
  id           TEXT NOT NULL UNIQUE,               -- "msg_" + random
  account_id   TEXT NOT NULL,
  session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  direction    TEXT NOT NULL,                      -- in | out
  wa_id        TEXT NOT NULL,
  chat_jid     TEXT NOT NULL,
  recipient    TEXT NOT NULL DEFAULT '',           -- out: as the caller wrote it
  sender_jid   TEXT NOT NULL DEFAULT '',
  sender_pn    TEXT NOT NULL DEFAULT '',
  sender_lid   TEXT NOT NULL DEFAULT '',
  push_name    TEXT NOT NULL DEFAULT '',
  type         TEXT NOT NULL,
  body         TEXT NOT NULL DEFAULT '',
  quoted_id    TEXT NOT NULL DEFAULT '',
  quoted_participant TEXT NOT NULL DEFAULT '',
  quoted_text  TEXT NOT NULL DEFAULT '',
  mentions     TEXT NOT NULL DEFAULT '[]',         -- JSON array of JIDs
  status       TEXT NOT NULL,
  error_code   TEXT NOT NULL DEFAULT '',
  error_detail TEXT NOT NULL DEFAULT '',
  expires_ms   INTEGER,
  attempts     INTEGER NOT NULL DEFAULT 0,
  first_contact INTEGER NOT NULL DEFAULT 0,
  wa_timestamp INTEGER NOT NULL DEFAULT 0,
  created_ms   INTEGER NOT NULL,
  updated_ms   INTEGER NOT NULL,
  sent_ms      INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX messages_by_wa_id ON messages(session_id, direction, wa_id);
CREATE INDEX messages_by_session ON messages(session_id, n);
CREATE INDEX messages_pending ON messages(session_id, n)
  WHERE direction = 'out' AND status IN ('queued', 'sending');
CREATE INDEX messages_by_chat ON messages(session_id, chat_jid, direction);
CREATE INDEX messages_by_sender_pn ON messages(session_id, sender_pn) WHERE sender_pn != '';
CREATE INDEX messages_by_time ON messages(created_ms);

CREATE TABLE message_status (
  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  status     TEXT NOT NULL,
  at_ms      INTEGER NOT NULL,
  PRIMARY KEY (message_id, status)
) STRICT, WITHOUT ROWID;

CREATE TABLE idempotency_keys (
  account_id   TEXT NOT NULL,
  key          TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  message_id   TEXT NOT NULL,
  created_ms   INTEGER NOT NULL,
  PRIMARY KEY (account_id, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_by_time ON idempotency_keys(created_ms);

-- Anti-ban pacing beyond the speed (outbox/pacer.h) and when the number was linked (warm-up).
ALTER TABLE sessions ADD COLUMN pacing TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sessions ADD COLUMN linked_ms INTEGER NOT NULL DEFAULT 0;

CREATE TABLE account_usage (
  account_id     TEXT NOT NULL,
  month_start_ms INTEGER NOT NULL,
  messages       INTEGER NOT NULL,
  PRIMARY KEY (account_id, month_start_ms)
) STRICT, WITHOUT ROWID;
)sql"},
      // Email alerts (store/emails.h): each rendered message waits here until the SMTP server
      // takes it, so an alert survives an SMTP outage and a restart. `dedupe_key` makes each
      // alert (an outage, a month's quota threshold, a disabled endpoint) one email at most.
      {8, "email_outbox",
       R"sql(
CREATE TABLE email_outbox (
  id              TEXT PRIMARY KEY,        -- "eml_" + random
  dedupe_key      TEXT NOT NULL UNIQUE,
  account_id      TEXT NOT NULL,
  kind            TEXT NOT NULL,           -- logged_out | disconnected | endpoint_disabled | quota_80 | quota_100
  rcpt            TEXT NOT NULL,           -- envelope recipient (the account's email)
  message         TEXT NOT NULL,           -- the RFC 5322 message, CRLF line ends
  state           TEXT NOT NULL,           -- pending | sent | dead
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  last_error      TEXT NOT NULL DEFAULT '',
  created_ms      INTEGER NOT NULL,
  sent_ms         INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX email_outbox_due ON email_outbox(next_attempt_ms) WHERE state = 'pending';
)sql"},
      // Migration 8 is the email branch's. What each linked number knows of its contacts
      // (wa::client::ContactStore): LID <-> phone-number pairs, usync device lists, and the
      // recent messages it sent (plaintext sealed like the other secrets, AAD: table, session,
      // message id) to answer retry receipts after a restart; bounded per session by count and
      // age at each commit (SessionStateOptions::sent_messages).
      {9, "contacts",
       R"sql(
CREATE TABLE wa_lid_map (
  session_id TEXT NOT NULL,
  pn_user    TEXT NOT NULL,           -- user part of the phone-number JID
  lid_user   TEXT NOT NULL,           -- user part of the @lid JID
  PRIMARY KEY (session_id, pn_user),
  UNIQUE (session_id, lid_user)
) STRICT, WITHOUT ROWID;

CREATE TABLE wa_device_lists (
  session_id   TEXT NOT NULL,
  user_jid     TEXT NOT NULL,
  devices      BLOB NOT NULL,         -- ascending big-endian u16 device ids
  key_index_ts INTEGER NOT NULL,      -- the usync answer's <key-index-list ts>
  fetched_ms   INTEGER NOT NULL,
  PRIMARY KEY (session_id, user_jid)
) STRICT, WITHOUT ROWID;

CREATE TABLE wa_sent_messages (
  session_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  sent_ms    INTEGER NOT NULL,
  sealed     BLOB NOT NULL,           -- wa::client::EncodeSentMessage
  PRIMARY KEY (session_id, message_id)
) STRICT;
-- Rowids grow with each put: the by-session index walks a session's rows newest first.
CREATE INDEX wa_sent_messages_by_session ON wa_sent_messages(session_id);
CREATE INDEX wa_sent_messages_by_time ON wa_sent_messages(session_id, sent_ms);
)sql"},
      {10, "history_sync",
       R"sql(
-- History sync after linking: a session's choice (off | recent | full; '' = the gateway's
-- default) and where a stored message came from ('live', or 'history' for messages the phone
-- sent in its history sync, which are never announced as message.received).
ALTER TABLE sessions ADD COLUMN history_sync TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN source TEXT NOT NULL DEFAULT 'live';
)sql"},
      // "Did this chat ever write to us" (first-contact pacing) reads received messages only:
      // outgoing messages no longer pay for an index entry of their chat.
      {11, "received_by_chat",
       R"sql(
DROP INDEX messages_by_chat;
CREATE INDEX messages_in_by_chat ON messages(session_id, chat_jid) WHERE direction = 'in';
)sql"},
  };
  return migrations;
}

namespace {
class CategoryImpl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "store"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::kUnavailable: return "database unavailable";
      case Errc::kCorrupt: return "database file is damaged or not a database";
      case Errc::kSchemaTooNew: return "database schema is newer than this wagate";
      case Errc::kMasterKeyMismatch: return "master key does not match the database";
      case Errc::kIo: return "database i/o error";
      case Errc::kUndecryptable:
        return "a stored secret does not decrypt under the master key (wrong key, or a row "
               "altered or moved)";
      case Errc::kInUse: return "the session's stored state is already open";
      case Errc::kConflict: return "a unique value is already taken";
    }
    return "unknown store error";
  }
};
}  // namespace

const boost::system::error_category& Category() {
  static const CategoryImpl category;
  return category;
}

}  // namespace gateway::store
