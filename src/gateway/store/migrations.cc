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
