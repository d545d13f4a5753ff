#include "store/sqlite_inventory_store.h"

namespace fleet::store {
namespace {

using inventory::DeviceRecord;

// Column order: mac, the FLEET_DEVICE_FIELDS in order, then the bookkeeping columns.
std::string columns() {
  std::string c = "mac";
#define FLEET_COL(kind, name) c += ", " #name;
  FLEET_DEVICE_FIELDS(FLEET_COL)
#undef FLEET_COL
  c += ", online, first_seen_ms, last_seen_ms, status_at_ms, bad_payloads";
  return c;
}

int column_count() {
  int n = 1;
#define FLEET_COUNT(kind, name) ++n;
  FLEET_DEVICE_FIELDS(FLEET_COUNT)
#undef FLEET_COUNT
  return n + 5;
}

std::string upsert_sql() {
  std::string sql = "INSERT INTO devices (" + columns() + ") VALUES (";
  for (int i = 1; i <= column_count(); ++i) sql += (i > 1 ? ", ?" : "?") + std::to_string(i);
  sql += ") ON CONFLICT (mac) DO UPDATE SET ";
  std::string sets;
#define FLEET_SET(kind, name) sets += #name " = excluded." #name ", ";
  FLEET_DEVICE_FIELDS(FLEET_SET)
#undef FLEET_SET
  // first_seen stays what it was.
  sets += "online = excluded.online, last_seen_ms = excluded.last_seen_ms, status_at_ms = excluded.status_at_ms, "
          "bad_payloads = excluded.bad_payloads";
  return sql + sets;
}

std::optional<std::string> read(const Statement& s, int col, const inventory::Str*) { return s.opt_text(col); }
std::optional<std::int64_t> read(const Statement& s, int col, const inventory::Int*) { return s.opt_int64(col); }

}  // namespace

SqliteInventoryStore::SqliteInventoryStore(Database& db) : db_(db), upsert_(db.prepare(upsert_sql())) {}

std::vector<DeviceRecord> SqliteInventoryStore::load_devices() {
  std::vector<DeviceRecord> out;
  auto q = db_.prepare("SELECT " + columns() + " FROM devices ORDER BY mac");
  while (q.step()) {
    DeviceRecord r;
    int col = 0;
    r.mac = q.text(col++);
#define FLEET_READ(kind, name) r.name = read(q, col++, static_cast<const inventory::kind*>(nullptr));
    FLEET_DEVICE_FIELDS(FLEET_READ)
#undef FLEET_READ
    r.online = q.int64(col++) != 0;
    r.first_seen_ms = q.int64(col++);
    r.last_seen_ms = q.int64(col++);
    r.status_at_ms = q.int64(col++);
    r.bad_payloads = q.int64(col++);
    out.push_back(std::move(r));
  }
  return out;
}

void SqliteInventoryStore::forget_device(const std::string& mac) {
  db_.prepare("DELETE FROM devices WHERE mac = ?1").bind(1, mac).run();
}

void SqliteInventoryStore::save_devices(const std::vector<DeviceRecord>& batch) {
  Transaction tx(db_);
  for (const auto& r : batch) {
    upsert_.reset();
    int i = 1;
    upsert_.bind(i++, r.mac);
#define FLEET_BIND(kind, name) upsert_.bind(i++, r.name);
    FLEET_DEVICE_FIELDS(FLEET_BIND)
#undef FLEET_BIND
    upsert_.bind(i++, std::int64_t{r.online ? 1 : 0});
    upsert_.bind(i++, r.first_seen_ms);
    upsert_.bind(i++, r.last_seen_ms);
    upsert_.bind(i++, r.status_at_ms);
    upsert_.bind(i++, r.bad_payloads);
    upsert_.run();
  }
  upsert_.reset();
  tx.commit();
}

void SqliteInventoryStore::save_daemon_status(const DaemonStatus& s) {
  db_.prepare(
         "INSERT INTO daemon_status (id, pid, started_ms, heartbeat_ms, broker, connected, messages, rejected, "
         "status_queries, ota_base, firmware_dir) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, "
         "started_ms = excluded.started_ms, heartbeat_ms = excluded.heartbeat_ms, broker = excluded.broker, "
         "connected = excluded.connected, messages = excluded.messages, rejected = excluded.rejected, "
         "status_queries = excluded.status_queries, ota_base = excluded.ota_base, firmware_dir = excluded.firmware_dir")
      .bind(1, s.pid)
      .bind(2, s.started_ms)
      .bind(3, s.heartbeat_ms)
      .bind(4, s.broker)
      .bind(5, std::int64_t{s.connected ? 1 : 0})
      .bind(6, s.messages)
      .bind(7, s.rejected)
      .bind(8, s.status_queries)
      .bind(9, s.ota_base.empty() ? std::optional<std::string>() : std::optional<std::string>(s.ota_base))
      .bind(10, s.firmware_dir.empty() ? std::optional<std::string>() : std::optional<std::string>(s.firmware_dir))
      .run();
}

std::optional<DaemonStatus> SqliteInventoryStore::daemon_status() {
  auto q = db_.prepare(
      "SELECT pid, started_ms, heartbeat_ms, broker, connected, messages, rejected, status_queries, ota_base, firmware_dir FROM "
      "daemon_status "
      "WHERE id = 1");
  if (!q.step()) return std::nullopt;
  return DaemonStatus{q.int64(0), q.int64(1), q.int64(2), q.text(3), q.int64(4) != 0, q.int64(5), q.int64(6), q.int64(7),
                      q.opt_text(8).value_or(""), q.opt_text(9).value_or("")};
}

}  // namespace fleet::store
