#include "backup/file_transfer.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "backup/transfer_encoding.h"

namespace fleet::backup {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxSettingsFile = 64 * 1024;  // a settings file is 4 KB (+ file-system records)

std::optional<json> parse_object(std::string_view payload) {
  if (payload.size() > 8192) return std::nullopt;
  auto j = json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::optional<int> error_code(const std::string& text) {
  if (text.rfind("Error ", 0) != 0) return std::nullopt;
  try {
    return std::stoi(text.substr(6));
  } catch (...) {
    return std::nullopt;
  }
}

bool is_unknown_command(std::string_view suffix, const json& j) {
  return (suffix == "RESULT" || suffix == "COMMAND") && j.contains("Command") && j["Command"] == "Unknown";
}

}  // namespace

std::string file_transfer_error(int code) {
  switch (code) {
    case 1: return "Error 1: the device refused the password (it must be the device's own MqttPassword)";
    case 2: return "Error 2: the device has no buffer for the file, or it is too large";
    case 3: return "Error 3: the device does not take this file type";
    case 4: return "aborted";
    case 5: return "Error 5: refused on a group topic";
    case 6: return "Error 6: the device could not allocate a buffer";
    default: return fmt::format("Error {}", code);
  }
}

std::optional<DeviceCommand> FileTransfer::fail(std::string why) {
  state_ = TransferState::Failed;
  error_ = std::move(why);
  return std::nullopt;
}

std::optional<DeviceCommand> FileTransfer::not_supported(std::string why) {
  state_ = TransferState::NotSupported;
  error_ = std::move(why);
  return std::nullopt;
}

FileDownload::FileDownload(std::string password) : password_(std::move(password)) {}

DeviceCommand FileDownload::start() const { return {"FileDownload", json{{"Password", password_}, {"Type", 2}}.dump()}; }

std::optional<DeviceCommand> FileDownload::on_reply(std::string_view suffix, std::string_view payload) {
  if (state_ != TransferState::Running) return std::nullopt;
  auto j = parse_object(payload);
  if (!j) return std::nullopt;
  if (id_ == 0 && is_unknown_command(suffix, *j)) return not_supported("the firmware has no FileDownload (before about 9.4)");
  if (suffix != "FILEDOWNLOAD") return std::nullopt;
  if (j->contains("FileDownload")) {
    auto text = (*j)["FileDownload"].is_string() ? (*j)["FileDownload"].get<std::string>() : std::string();
    if (text == "Started" || text == "Done") return std::nullopt;
    if (auto code = error_code(text)) return fail(file_transfer_error(*code));
    return fail("the device ended the download: " + text);
  }
  if (!j->contains("Id") || !(*j)["Id"].is_number_integer()) return std::nullopt;
  int id = (*j)["Id"].get<int>();
  if (j->contains("File") && j->contains("Size")) {
    if (id_ != 0) return std::nullopt;
    if (!(*j)["Size"].is_number_integer() || (*j)["Size"].get<std::int64_t>() <= 0 ||
        (*j)["Size"].get<std::int64_t>() > static_cast<std::int64_t>(kMaxSettingsFile))
      return fail("the device announced an implausible size: " + (*j)["Size"].dump());
    id_ = id;
    size_ = static_cast<std::size_t>((*j)["Size"].get<std::int64_t>());
    file_name_ = (*j)["File"].is_string() ? (*j)["File"].get<std::string>() : std::string();
    return DeviceCommand{"FileDownload", ""};
  }
  if (id != id_ || id_ == 0) return std::nullopt;
  if (j->contains("Data")) {
    auto bytes = (*j)["Data"].is_string() ? base64_decode((*j)["Data"].get<std::string>()) : std::nullopt;
    if (!bytes) return fail("a chunk was not valid base64");
    if (file_.size() + bytes->size() > size_) return fail(fmt::format("the device sent more than the {} bytes it announced", size_));
    file_.insert(file_.end(), bytes->begin(), bytes->end());
    return DeviceCommand{"FileDownload", ""};
  }
  if (j->contains("Md5")) {
    auto md5 = (*j)["Md5"].is_string() ? (*j)["Md5"].get<std::string>() : std::string();
    if (file_.size() != size_) return fail(fmt::format("got {} of {} bytes", file_.size(), size_));
    for (auto& c : md5) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (md5 != md5_hex(file_))
      return fail("MD5 mismatch: the file was damaged in transfer");
    state_ = TransferState::Done;
    return std::nullopt;
  }
  return std::nullopt;
}

FileUpload::FileUpload(std::string password, std::vector<std::uint8_t> file, std::string file_name, int id)
    : password_(std::move(password)), file_(std::move(file)), file_name_(std::move(file_name)), id_(id) {}

DeviceCommand FileUpload::start() const {
  return {"FileUpload", json{{"Password", password_}, {"File", file_name_}, {"Id", id_}, {"Type", 2}, {"Size", file_.size()}}.dump()};
}

std::optional<DeviceCommand> FileUpload::on_reply(std::string_view suffix, std::string_view payload) {
  if (state_ != TransferState::Running) return std::nullopt;
  auto j = parse_object(payload);
  if (!j) return std::nullopt;
  if (!started_ && is_unknown_command(suffix, *j)) return not_supported("the firmware has no FileUpload (before about 9.4)");
  if (suffix != "FILEUPLOAD") return std::nullopt;
  if (j->contains("FileUpload")) {
    auto text = (*j)["FileUpload"].is_string() ? (*j)["FileUpload"].get<std::string>() : std::string();
    if (text == "Started") {
      started_ = true;
      return std::nullopt;
    }
    if (text == "Done") {
      if (!md5_sent_) return fail("the device said Done before the upload was complete");
      state_ = TransferState::Done;  // the device restores and restarts
      return std::nullopt;
    }
    if (auto code = error_code(text)) return fail(file_transfer_error(*code));
    if (text == "Failed") return fail("the device refused the settings file (wrong platform, bad checksum or newer than its firmware)");
    return fail("the device ended the upload: " + text);
  }
  if (!j->contains("Id") || (*j)["Id"] != id_ || !j->contains("MaxSize") || !(*j)["MaxSize"].is_number_integer()) return std::nullopt;
  auto max = (*j)["MaxSize"].get<std::int64_t>();
  if (max <= 0) return fail("the device offered no room for data");
  if (pos_ < file_.size()) {
    std::size_t n = std::min(static_cast<std::size_t>(max), file_.size() - pos_);
    auto chunk = base64_encode(std::span(file_).subspan(pos_, n));
    pos_ += n;
    return DeviceCommand{"FileUpload", json{{"Id", id_}, {"Data", chunk}}.dump()};
  }
  if (!md5_sent_) {
    md5_sent_ = true;
    return DeviceCommand{"FileUpload", json{{"Id", id_}, {"Md5", md5_hex(file_)}}.dump()};
  }
  return std::nullopt;
}

}  // namespace fleet::backup
