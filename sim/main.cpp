// tasmota-sim: a fleet of simulated Tasmota devices on a real MQTT broker (docs/simulator.md).
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "firmware/synthetic_image.h"

#include "core/log.h"
#include "mqtt/broker_config.h"
#include "sim/fleet.h"
#include "sim/sim_runner.h"

namespace {
std::atomic<bool> g_stop{false};
std::atomic<bool> g_flood{false};
void on_signal(int) { g_stop = true; }
void on_flood_signal(int) { g_flood = true; }
}  // namespace

// Test images for every hop (and -minimal step) of `tasmota-fleet plan --json`'s plans, so that a demo or
// a test can roll a mixed fleet out to the latest release offline. Prints one line per image:
// store path, version, build, chip, file (tab-separated) for `tasmota-fleet firmware add --path`.
int make_images_for(const std::string& plans_file, const std::string& dir) {
  std::ifstream in(plans_file);
  auto plans = nlohmann::json::parse(in, nullptr, false);
  if (plans.is_discarded() || !plans.is_array()) {
    std::cerr << "tasmota-sim: " << plans_file << ": not a JSON array of plans\n";
    return 2;
  }
  std::filesystem::create_directories(dir);
  std::set<std::string> done;
  for (const auto& p : plans) {
    if (!p.is_object() || p.contains("error") || !p.contains("hops")) continue;
    auto chip = fleet::planner::parse_chip(p.value("chip", "ESP8266"));
    for (const auto& h : p["hops"]) {
      for (const char* key : {"url", "minimal_url"}) {
        if (!h.contains(key) || !h[key].is_string()) continue;
        std::string url = h[key].get<std::string>();
        auto scheme = url.find("://");
        if (url.empty() || scheme == std::string::npos) continue;
        auto slash = url.find('/', scheme + 3);
        if (slash == std::string::npos) continue;
        std::string path = url.substr(slash + 1);
        if (!done.insert(path).second) continue;
        std::string name = path.substr(path.rfind('/') + 1);
        fleet::firmware::SyntheticImage spec;
        spec.chip = chip;
        spec.version = h["version"].is_string() ? h["version"].get<std::string>() : "";
        spec.build = name.substr(0, name.find('.'));
        spec.gzip = name.ends_with(".gz");
        spec.bytes = (spec.build.find("minimal") != std::string::npos ? 280 : 400) * 1024;
        auto bytes = fleet::firmware::make_image(spec);
        std::string file = dir + "/" + std::to_string(done.size()) + "-" + name;
        std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        std::cout << path << "\t" << spec.version << "\t" << spec.build << "\t" << fleet::planner::to_string(chip) << "\t" << file << "\n";
      }
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  CLI::App app{"tasmota-sim: simulated Tasmota devices on a real MQTT broker"};
  app.set_version_flag("--version", std::string("tasmota-sim ") + FLEET_VERSION);
  std::string broker = "mqtt://127.0.0.1:1883", username, password, ca_file, fleet_file, versions_csv, log_level = "info";
  std::size_t count = 20;
  std::uint32_t seed = 1;
  fleet::sim::RunnerOptions opt;
  bool insecure = false;
  app.add_option("--broker", broker, "broker URL (mqtt://host:port or mqtts://host:port)")->envname("TASMOTA_SIM_BROKER");
  app.add_option("--username", username, "MQTT user for every device");
  app.add_option("--password", password, "MQTT password for every device")->envname("TASMOTA_SIM_PASSWORD");
  app.add_option("--ca-file", ca_file, "CA certificate for mqtts://");
  app.add_flag("--insecure", insecure, "do not verify the broker's certificate host name");
  app.add_option("--fleet", fleet_file, "fleet file (JSON); otherwise --count devices of mixed versions");
  app.add_option("--count", count, "number of generated devices")->check(CLI::Range(1, 100000));
  app.add_option("--seed", seed, "seed for generated MACs/topics");
  app.add_option("--versions", versions_csv, "comma list of VERSION[:BUILD[:CHIP]] to cycle through");
  app.add_option("--ready-file", opt.ready_file, "file written once every device has connected");
  app.add_option("--tele-scale", opt.tele_scale, "multiplies every TelePeriod (0.01 = 100x faster telemetry)");
  app.add_option("--first-state-ms", opt.first_state_ms, "delay of the first STATE after connecting");
  app.add_option("--restart-delay-ms", opt.restart_delay_ms, "pause between Offline and Online on a restart");
  app.add_option("--reconnect-delay-ms", opt.reconnect_delay_ms, "retry delay after losing the broker");
  app.add_option("--connect-rate", opt.connects_per_s, "new connections per second during start-up");
  app.add_option("--flood", opt.flood_per_device, "bench: every device publishes N STATE as fast as possible, then exit");
  bool flood_on_signal = false;
  app.add_flag("--flood-on-signal", flood_on_signal, "bench: start the flood on SIGUSR1 and keep the devices connected after it");
  app.add_option("--ota-threads", opt.ota_threads, "concurrent OTA downloads")->check(CLI::Range(1, 1000));
  app.add_option("--ota-kbps", opt.ota_kbps, "OTA download speed per device in KB/s (0: unlimited)");
  app.add_option("--web-port", opt.web_port, "the devices' web servers (/dl, /rs, /u2) on this port of each device's 127.x address (0: any free port; default off)");
  app.add_option("--web-port-file", opt.web_port_file, "write the web port here once listening");
  app.add_option("--command-log", opt.command_log, "append every command a device received to FILE (JSON lines: t, device, mac, topic, payload)");
  std::vector<std::string> fault_flags;
  app.add_option("--fault", fault_flags, "TOPIC:KIND[=VALUE]: give a device (TOPIC * every device) a fault (docs/simulator.md, Faults)");
  app.add_option("--log-level", log_level, "debug, info, warn, error");
  // Test images: small files with valid headers that simulated devices boot as the version they name.
  std::string make_image_file, image_chip = "esp8266";
  fleet::firmware::SyntheticImage image;
  int image_kb = 0;
  app.add_option("--make-image", make_image_file, "write a synthetic firmware image to FILE and exit (see docs/simulator.md)");
  app.add_option("--image-chip", image_chip, "its chip: esp8266, esp32, esp32c3, …");
  app.add_option("--image-version", image.version, "the version it boots as");
  app.add_option("--image-build", image.build, "its image name: tasmota, tasmota-minimal, tasmota32c3, …");
  app.add_option("--image-kb", image_kb, "its size in KB (before gzip)");
  app.add_flag("--gzip", image.gzip, "gzip it (.bin.gz)");
  std::string images_for, image_dir = ".";
  app.add_option("--make-images-for", images_for, "write a synthetic image for every hop of these plans (`plan --json`) and exit");
  app.add_option("--image-dir", image_dir, "where --make-images-for writes them");
  CLI11_PARSE(app, argc, argv);
  if (!images_for.empty()) return make_images_for(images_for, image_dir);
  if (!make_image_file.empty()) {
    image.chip = fleet::planner::parse_chip(image_chip);
    if (image.chip == fleet::planner::Chip::Unknown) {
      std::cerr << "tasmota-sim: --image-chip: unknown chip '" << image_chip << "'\n";
      return 2;
    }
    if (image_kb > 0) image.bytes = static_cast<std::size_t>(image_kb) * 1024;
    auto bytes = fleet::firmware::make_image(image);
    std::ofstream(make_image_file, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    std::cout << make_image_file << ": " << bytes.size() << " bytes\n";
    return 0;
  }

  fleet::log::set_threshold(log_level == "debug" ? fleet::log::Level::Debug
                            : log_level == "warn" ? fleet::log::Level::Warn
                            : log_level == "error" ? fleet::log::Level::Error
                                                   : fleet::log::Level::Info);
  try {
    fleet::mqtt::BrokerConfig bc;
    bc.url = broker;
    std::string uri = bc.paho_uri();  // validates; "tcp://host:port" / "ssl://host:port"
    auto hostport = uri.substr(uri.find("://") + 3);
    auto colon = hostport.rfind(':');
    opt.host = hostport.substr(0, colon);
    opt.port = std::stoi(hostport.substr(colon + 1));
    opt.username = username;
    opt.password = password;
    opt.tls_insecure = insecure;
    if (bc.tls()) opt.ca_file = ca_file.empty() ? "/etc/ssl/certs/ca-certificates.crt" : ca_file;

    std::vector<fleet::sim::DeviceSpec> devices;
    if (!fleet_file.empty()) {
      devices = fleet::sim::load_fleet_file(fleet_file);
    } else {
      std::vector<std::string> versions;
      std::stringstream ss(versions_csv);
      for (std::string v; std::getline(ss, v, ',');)
        if (!v.empty()) versions.push_back(v);
      devices = fleet::sim::generate_fleet(count, seed, versions);
    }
    for (const auto& flag : fault_flags) {
      fleet::sim::Faults probe;
      std::string error;
      auto topic = fleet::sim::parse_fault_flag(flag, probe, error);
      if (!topic) {
        std::cerr << "tasmota-sim: " << error << "\n";
        return 2;
      }
      bool any = false;
      for (auto& d : devices)
        if (*topic == "*" || d.settings.topic == *topic) any = fleet::sim::parse_fault_flag(flag, d.faults, error).has_value();
      if (!any) {
        std::cerr << "tasmota-sim: --fault " << flag << ": no device has the topic " << *topic << "\n";
        return 2;
      }
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    if (flood_on_signal) {
      std::signal(SIGUSR1, on_flood_signal);
      opt.flood_trigger = &g_flood;
      opt.exit_after_flood = false;
    }
    fleet::log::info("sim: {} devices on {}", devices.size(), broker);
    fleet::sim::SimRunner runner(std::move(devices), opt);
    int rc = runner.run(g_stop);
    const auto& st = runner.stats();
    std::cout << "sim: connects=" << st.connects << " disconnects=" << st.disconnects << " connect_timeouts=" << st.connect_timeouts << " published=" << st.published
              << " commands=" << st.commands << " restarts=" << st.restarts << " ota_downloads=" << st.ota_downloads;
    if (opt.flood_per_device > 0) std::cout << " flood_ms=" << st.flood_ms;
    std::cout << std::endl;
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "tasmota-sim: " << e.what() << "\n";
    return 2;
  }
}
