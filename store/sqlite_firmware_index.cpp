#include "store/sqlite_firmware_index.h"

namespace fleet::store {
namespace {

constexpr const char* kColumns = "id, path, version, build, chip, bytes, sha256, source, added_ms, gzip";

firmware::FirmwareEntry row(Statement& q) {
  firmware::FirmwareEntry e;
  e.id = q.int64(0);
  e.path = q.text(1);
  e.version = q.text(2);
  e.build = q.text(3);
  e.chip = q.text(4);
  e.bytes = q.int64(5);
  e.sha256 = q.text(6);
  e.source = q.text(7);
  e.added_ms = q.int64(8);
  e.gzip = q.int64(9) != 0;
  return e;
}

}  // namespace

void SqliteFirmwareIndex::put(firmware::FirmwareEntry& e) {
  auto q = db_.prepare(
      "INSERT INTO firmware (path, version, build, chip, bytes, sha256, source, added_ms, gzip) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
      "?7, ?8, ?9) ON CONFLICT (path) DO UPDATE SET version = excluded.version, build = excluded.build, chip = excluded.chip, "
      "bytes = excluded.bytes, sha256 = excluded.sha256, source = excluded.source, added_ms = excluded.added_ms, "
      "gzip = excluded.gzip RETURNING id");
  q.bind(1, e.path).bind(2, e.version).bind(3, e.build).bind(4, e.chip).bind(5, e.bytes).bind(6, e.sha256).bind(7, e.source);
  q.bind(8, e.added_ms).bind(9, std::int64_t{e.gzip ? 1 : 0});
  if (q.step()) e.id = q.int64(0);
}

std::vector<firmware::FirmwareEntry> SqliteFirmwareIndex::all() {
  std::vector<firmware::FirmwareEntry> out;
  auto q = db_.prepare(std::string("SELECT ") + kColumns + " FROM firmware ORDER BY path");
  while (q.step()) out.push_back(row(q));
  return out;
}

std::optional<firmware::FirmwareEntry> SqliteFirmwareIndex::find(const std::string& path) {
  auto q = db_.prepare(std::string("SELECT ") + kColumns + " FROM firmware WHERE path = ?1");
  q.bind(1, path);
  if (!q.step()) return std::nullopt;
  return row(q);
}

void SqliteDownloadLog::append(const std::vector<DownloadRow>& rows) {
  if (rows.empty()) return;
  Transaction t(db_);
  auto q = db_.prepare(
      "INSERT INTO ota_downloads (path, served_path, client_ip, device_mac, status, bytes_sent, bytes_total, started_ms, "
      "finished_ms, completed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  for (const auto& r : rows) {
    q.reset();
    q.bind(1, r.path).bind(2, r.served_path).bind(3, r.client_ip).bind(4, r.device_mac).bind(5, std::int64_t{r.status});
    q.bind(6, r.bytes_sent).bind(7, r.bytes_total).bind(8, r.started_ms).bind(9, r.finished_ms).bind(10, std::int64_t{r.completed ? 1 : 0});
    q.run();
  }
  t.commit();
}

std::vector<DownloadRow> SqliteDownloadLog::recent(std::size_t limit) {
  std::vector<DownloadRow> out;
  auto q = db_.prepare(
      "SELECT id, path, coalesce(served_path, ''), client_ip, device_mac, status, bytes_sent, bytes_total, started_ms, "
      "finished_ms, completed FROM ota_downloads ORDER BY id DESC LIMIT ?1");
  q.bind(1, static_cast<std::int64_t>(limit));
  while (q.step())
    out.push_back(DownloadRow{q.int64(0), q.text(1), q.text(2), q.text(3), q.opt_text(4), static_cast<int>(q.int64(5)), q.int64(6),
                              q.int64(7), q.int64(8), q.int64(9), q.int64(10) != 0});
  return out;
}

}  // namespace fleet::store
