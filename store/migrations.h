#pragma once
// The schema as numbered migrations (migrations/NNNN_name.sql, embedded at build time). Applied in
// order at start, each in its own transaction and recorded in schema_version. A landed migration is
// never edited: change the schema with a new file.
#include <string>
#include <vector>

namespace fleet::store {

struct Migration {
  int number;
  const char* name;
  const char* sql;
};

const std::vector<Migration>& migrations();

class Database;
// Applies what is missing, up to `target` (default: all). Returns the version reached. Throws if the
// database is newer than this program knows (an older binary must not touch a newer schema).
int migrate(Database& db, int target = -1);
int schema_version(Database& db);

}  // namespace fleet::store
