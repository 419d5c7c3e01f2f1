// The gateway's storage, behind interfaces that the embedded SQLite store implements today and a
// PostgreSQL store will implement for multi-node deployments (ARCHITECTURE.md, principle 5).
// Every method is a coroutine: blocking engines run the work on their own bounded pool, never on
// the caller's network thread.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace gateway::store {

enum class Errc {
  kUnavailable = 1,   // the database cannot be opened or reached
  kCorrupt,           // the database file is damaged or not a database
  kSchemaTooNew,      // the database was migrated by a newer wagate
  kMasterKeyMismatch, // the configured master key is not the one the database was made with
  kIo,                // a read or write failed
  kUndecryptable,     // a sealed value failed authentication: wrong master key, or a row altered
                      // or moved to another row
  kInUse,             // the session's state is already open in this process
  kConflict,          // a unique value (an email, a key hash) is already taken
};
const boost::system::error_category& Category();
inline boost::system::error_code make_error_code(Errc e) { return {static_cast<int>(e), Category()}; }

struct MigrationState {
  int current = 0;  // highest applied version
  int latest = 0;   // highest version this binary knows
  bool UpToDate() const { return current == latest; }
};

struct Health {
  std::string driver;       // "sqlite"
  MigrationState migrations;
  std::string instance_id;  // random id made when the database was created
};

class Store {
 public:
  virtual ~Store() = default;
  // A round trip to the database plus its migration state (for /readyz).
  virtual boost::asio::awaitable<base::Result<Health>> Check() = 0;
};

// One versioned migration; the list is embedded in the binary (migrations.cc).
struct Migration {
  int version;
  const char* name;
  const char* sql;
};
const std::vector<Migration>& SqliteMigrations();

}  // namespace gateway::store

template <>
struct boost::system::is_error_code_enum<gateway::store::Errc> : std::true_type {};
