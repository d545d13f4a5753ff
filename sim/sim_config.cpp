// Configuration files on a simulated device: the settings .dmp, MQTT FileDownload/FileUpload and the
// web server's /dl, /rs, /u2. Facts (docs/simulator.md, docs/backups.md):
// - xdrv_02_1_mqtt_file.ino: `FileDownload {"Password":<MqttPassword>,"Type":2}` answers on
//   stat/<topic>/FILEDOWNLOAD {"FileDownload":"Started"} then {"File":…,"Id":n,"Type":2,"Size":4096};
//   each bare `FileDownload` gives {"Id":n,"Data":<base64>}, then {"Id":n,"Md5":…} and
//   {"FileDownload":"Done"}; `FileDownload 0` aborts; errors are {"FileDownload":"Error <n>"}
//   (1 password, 2 size/buffer, 3 type, 5 group topic). `FileUpload {"Password","File","Id","Type","Size"}`
//   answers "Started" and {"Id":n,"MaxSize":m}; data chunks {"Id":n,"Data":…} each get MaxSize again;
//   {"Id":n,"Md5":…} ends it: "Done" and a restart, "MD5 mismatch", or "Failed" when the settings
//   restore refuses the file. A chunk larger than the MQTT buffer (1200 bytes) never arrives.
// - tasmota-facts.md: FileDownload/FileUpload from about 9.4 (the source's examples name 9.4.0.3);
//   GET /dl returns Config_<name>_<version>.dmp in WebServer 2 (admin) mode, behind basic auth
//   admin:<WebPassword> when one is set; restore is GET /rs? then a multipart POST /u2 (field u2).
// - Tasmota settings.ino SettingsConfigRestore: valid CRC of the file's era and the same platform byte;
//   the firmware then migrates the file (backup/settings_migration.h).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "backup/settings_migration.h"
#include "backup/transfer_encoding.h"
#include "planner/chip.h"
#include "sim/sim_device.h"
#include "sim/text.h"
#include "sim/sim_settings.h"

namespace fleet::sim {
namespace {

using ojson = nlohmann::ordered_json;

constexpr std::size_t kDownloadChunk = 760;   // ((ResponseSize 1040 - 21) / 4) * 3 - 2
constexpr std::size_t kMqttBuffer = 1200;     // PubSubClient buffer (MQTT_MAX_PACKET_SIZE)


// Tasmota's JSON parser matches keys case-insensitively ("ID", "DATA", …).
const ojson* key(const ojson& o, std::string_view name) {
  for (auto it = o.begin(); it != o.end(); ++it)
    if (upper(it.key()) == name) return &it.value();
  return nullptr;
}

std::string alnum_underscore(std::string s) {
  for (auto& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

WebReply page(int status, std::string text) {
  WebReply r;
  r.status = status;
  r.body.assign(text.begin(), text.end());
  return r;
}

}  // namespace

bool SimDevice::has_mqtt_file() const { return version_ >= planner::Version{9, 4, 0, 3} && spec_.build != "minimal"; }

std::vector<std::uint8_t> SimDevice::config_file() const { return settings_file(spec_, version_, stored_).bytes(); }

std::string SimDevice::config_filename() const {
  return fmt::format("Config_{}_{}.dmp", alnum_underscore(hostname()), version_.str());
}

std::string SimDevice::restore_config(std::span<const std::uint8_t> bytes) {
  auto r = backup::read_dmp(bytes);
  if (!r.file) return r.error;
  auto& f = *r.file;
  auto mine = platform_of_spec(spec_);
  if (f.platform().value_or(0) != mine)
    return fmt::format("platform {} is not this device's {}", backup::platform_name(f.platform().value_or(0)), backup::platform_name(mine));
  if (f.version() > version_) return fmt::format("file from {} is newer than the firmware {}", f.version().str(), version_.str());
  if (version_ < planner::Version{6, 0, 0, 0}) return "firmware before 6.0 is not simulated taking settings files";
  stored_ = backup::migrate_settings(f, version_, backup::Migration::Firmware);
  auto keep_topic = spec_.settings.topic;
  settings_from_file(*stored_, spec_.settings);
  if (spec_.settings.topic.empty()) spec_.settings.topic = keep_topic;  // a file without MQTT fields
  return {};
}

void SimDevice::file_download(std::string_view arg, bool group, Reaction& out) {
  auto publish = [&](ojson j) { out.publish.push_back({stat("FILEDOWNLOAD"), j.dump(), false}); };
  if (group) return publish({{"FileDownload", "Error 5"}});
  if (transfer_ && !transfer_->upload) {
    if (arg == "0") {
      transfer_.reset();
      return publish({{"FileDownload", "Aborted"}});
    }
    auto& t = *transfer_;
    if (t.pos < t.buffer.size()) {
      std::size_t n = std::min(kDownloadChunk, t.buffer.size() - t.pos);
      publish({{"Id", t.id}, {"Data", backup::base64_encode(std::span(t.buffer).subspan(t.pos, n))}});
      t.pos += n;
      return;
    }
    publish({{"Id", t.id}, {"Md5", backup::md5_hex(t.buffer)}});
    transfer_.reset();
    return publish({{"FileDownload", "Done"}});
  }
  if (arg.empty() || arg.front() != '{') return publish({{"FileDownload", "Error 3"}});
  auto j = ojson::parse(arg, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return publish({{"FileDownload", "Error 3"}});
  auto* type = key(j, "TYPE");
  auto* password = key(j, "PASSWORD");
  if (!password || !password->is_string() || password->get<std::string>() != spec_.settings.mqtt_password)
    return publish({{"FileDownload", "Error 1"}});
  if (!type || !type->is_number_integer() || type->get<int>() != 2) return publish({{"FileDownload", "Error 3"}});
  FileTransfer t;
  t.id = static_cast<int>((spec_.boot_count * 2 + 1) & 0xFF) | 1;  // odd id between 1 and 255
  t.buffer = config_file();
  publish({{"FileDownload", "Started"}});
  publish({{"File", config_filename()}, {"Id", t.id}, {"Type", 2}, {"Size", t.buffer.size()}});
  transfer_ = std::move(t);
}

void SimDevice::file_upload(std::string_view arg, bool group, Reaction& out) {
  auto publish = [&](ojson j) { out.publish.push_back({stat("FILEUPLOAD"), j.dump(), false}); };
  if (group) return publish({{"FileUpload", "Error 5"}});
  // What the device's MQTT buffer can take: a larger message is dropped before the command runs.
  const std::size_t topic_size = full(0, "FILEUPLOAD").size() + 1;
  if (arg.size() > kMqttBuffer - 5 - topic_size) return;
  const std::size_t max_chunk = ((kMqttBuffer - 5 - topic_size - 1 - 21) / 4) * 3 - 2;
  if (arg == "0") {
    if (transfer_ && transfer_->upload) transfer_.reset();
    return publish({{"FileUpload", "Aborted"}});
  }
  auto j = ojson::parse(arg, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return publish({{"FileUpload", "Error 3"}});
  auto* id = key(j, "ID");
  int rcv_id = id && id->is_number_integer() ? id->get<int>() : 0;
  if (!transfer_ || !transfer_->upload) {
    auto* type = key(j, "TYPE");
    auto* size = key(j, "SIZE");
    auto* password = key(j, "PASSWORD");
    if (rcv_id <= 0 || !size || !size->is_number_integer() || !type || !type->is_number_integer()) return publish({{"FileUpload", "Error 3"}});
    if (!password || !password->is_string() || password->get<std::string>() != spec_.settings.mqtt_password)
      return publish({{"FileUpload", "Error 1"}});
    if (type->get<int>() != 2) return publish({{"FileUpload", "Error 3"}});  // firmware over MQTT: not simulated
    auto n = size->get<std::int64_t>();
    if (n <= 0 || n > 4096) return publish({{"FileUpload", "Error 2"}});
    FileTransfer t;
    t.upload = true;
    t.id = rcv_id;
    t.buffer.assign(static_cast<std::size_t>(n), 0);
    transfer_ = std::move(t);
    publish({{"FileUpload", "Started"}});
  } else if (rcv_id != transfer_->id) {
    transfer_.reset();
    return publish({{"FileUpload", "Aborted"}});
  }
  auto& t = *transfer_;
  if (auto* data = key(j, "DATA"); data && data->is_string()) {
    auto bytes = backup::base64_decode(data->get<std::string>());
    if (bytes && t.pos < t.buffer.size()) {
      std::size_t n = std::min(bytes->size(), t.buffer.size() - t.pos);
      std::copy_n(bytes->begin(), n, t.buffer.begin() + static_cast<std::ptrdiff_t>(t.pos));
      t.pos += n;
    }
  }
  if (auto* md5 = key(j, "MD5"); md5 && md5->is_string()) t.md5 = md5->get<std::string>();
  if (t.pos < t.buffer.size() || t.md5.size() != 32) return publish({{"Id", t.id}, {"MaxSize", max_chunk}});
  bool match = upper(t.md5) == upper(backup::md5_hex(t.buffer));
  auto buffer = std::move(t.buffer);
  transfer_.reset();
  if (!match) return publish({{"FileUpload", "MD5 mismatch"}});
  // "Done" and "Failed" are written to the same response buffer: only the last one is published.
  if (!restore_config(buffer).empty()) return publish({{"FileUpload", "Failed"}});
  publish({{"FileUpload", "Done"}});
  out.restart = true;
}

WebReply SimDevice::web(const WebRequest& req) {
  const auto& st = spec_.settings;
  if (st.webserver == 0) return page(404, "");  // no web server: the simulator's shared listener answers 404
  if (!st.web_password.empty()) {
    if (!req.basic_auth || req.basic_auth->first != "admin" || req.basic_auth->second != st.web_password) {
      auto r = page(401, "401 Unauthorized");
      r.headers["WWW-Authenticate"] = "Basic realm=\"tasmota\"";
      return r;
    }
  }
  bool admin = st.webserver == 2;
  if (req.method == "GET" && req.path == "/dl") {
    if (!admin) {
      auto r = page(302, "");
      r.headers["Location"] = "/";
      return r;
    }
    WebReply r;
    r.content_type = "application/octet-stream";
    r.body = config_file();
    r.headers["Content-Disposition"] = "attachment; filename=" + config_filename();
    return r;
  }
  if (req.method == "GET" && req.path == "/rs") {
    if (!admin) {
      auto r = page(302, "");
      r.headers["Location"] = "/";
      return r;
    }
    web_upload_armed_ = true;
    return page(200, "<form method='post' action='u2' enctype='multipart/form-data'><input type='file' name='u2'></form>");
  }
  if (req.method == "POST" && req.path == "/u2") {
    if (!admin) return page(302, "");
    if (!req.upload) return page(200, "<b>Upload Failed</b><br>No file");
    if (!web_upload_armed_) return page(200, "<b>Upload Failed</b><br>Invalid file signature");  // taken as firmware
    web_upload_armed_ = false;
    auto why = restore_config(*req.upload);
    if (!why.empty()) return page(200, "<b>Upload Failed</b><br>Settings restore failed: " + why);
    auto r = page(200, "<b>Upload Successful</b><br>Device will restart in a few seconds");
    r.restart = true;
    return r;
  }
  return page(404, "");
}

}  // namespace fleet::sim
