#pragma once
// Tasmota's MQTT file transfer for settings (Type 2), from the client's side, as pure state machines:
// the caller sends each command to cmnd/<topic>/<name> and hands every reply the device publishes
// (stat/<topic>/FILEDOWNLOAD, FILEUPLOAD, RESULT or COMMAND) to on_reply(); timeouts are the caller's.
// Protocol facts: xdrv_02_1_mqtt_file.ino (see sim/sim_config.cpp for the device's side).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::backup {

struct DeviceCommand {
  std::string name;     // "FileDownload"
  std::string payload;  // "{\"Password\":…}" or "" for the bare command
};

enum class TransferState { Running, Done, NotSupported, Failed };

// What Tasmota's "Error <n>" means here.
std::string file_transfer_error(int code);

// What both directions share: the outcome so far and why it failed.
class FileTransfer {
 public:
  TransferState state() const { return state_; }
  const std::string& error() const { return error_; }

 protected:
  std::optional<DeviceCommand> fail(std::string why);
  std::optional<DeviceCommand> not_supported(std::string why);
  TransferState state_ = TransferState::Running;
  std::string error_;
};

class FileDownload : public FileTransfer {
 public:
  explicit FileDownload(std::string device_mqtt_password);
  DeviceCommand start() const;
  // Returns the next command to send, if any. Replies that are not for this transfer are ignored.
  std::optional<DeviceCommand> on_reply(std::string_view suffix, std::string_view payload);

  const std::vector<std::uint8_t>& file() const { return file_; }
  const std::string& file_name() const { return file_name_; }

 private:
  std::string password_;
  int id_ = 0;
  std::size_t size_ = 0;
  std::string file_name_;
  std::vector<std::uint8_t> file_;
};

class FileUpload : public FileTransfer {
 public:
  FileUpload(std::string device_mqtt_password, std::vector<std::uint8_t> file, std::string file_name, int id = 116);
  DeviceCommand start() const;
  std::optional<DeviceCommand> on_reply(std::string_view suffix, std::string_view payload);

  std::size_t sent() const { return pos_; }

 private:
  std::string password_;
  std::vector<std::uint8_t> file_;
  std::string file_name_;
  int id_;
  std::size_t pos_ = 0;
  bool md5_sent_ = false;
  bool started_ = false;
};

}  // namespace fleet::backup
