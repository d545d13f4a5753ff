#pragma once
// tasmota-fleet decode FILE: a settings file decoded offline (no device, no database) with its
// validation verdict, as decode-config's -s FILE does. tasmota-fleet backup import FILE…: settings
// files saved elsewhere (Tasmota's web UI, TasmoAdmin, TasmoBackup, decode-config's JSON) taken in as
// backups of the device they belong to, validated as a backup the daemon took.
#include <optional>
#include <string>
#include <vector>

namespace fleet::cli {

struct DecodeOptions {
  std::string file;
  std::string format = "text";  // text, json, commands
  bool with_secrets = false;
};
// Exit 0: the file validates (notes may say what was not shown); 1: it does not (the reason printed).
int decode_file(const DecodeOptions& options);

struct ImportOptions {
  std::string db;
  std::vector<std::string> files;
  std::optional<std::string> device;  // MAC, topic or hostname; default: the topic or hostname in the file
  bool json = false;
};
// Exit 0 when every file was stored as a backup; 1 otherwise (each file says why; nothing stored for it).
int import_backups(const ImportOptions& options);

}  // namespace fleet::cli
