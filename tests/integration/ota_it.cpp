// The firmware store and the built-in OTA server end to end: images added with the CLI, served by
// `serve` over real HTTP to simulated devices on a real mosquitto, every download logged against the
// device. One device upgrades directly, one needs the -minimal step, one is refused an image for the
// wrong chip (Tasmota's own error text, tasmota-facts.md / sim/sim_ota.cpp), and the server refuses
// path traversal and absurd requests.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "firmware/synthetic_image.h"
#include "harness.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_firmware_index.h"

using nlohmann::json;
using namespace std::chrono_literals;
using fleet::firmware::make_image;
using fleet::firmware::SyntheticImage;
using fleet::planner::Chip;

namespace {

const char* kFleet = R"J({"devices": [
  {"version": "8.5.1", "build": "tasmota", "topic": "roomy", "mac": "5C:CF:7F:00:01:01", "ip": "127.0.0.11",
   "program_kb": 500, "free_kb": 500},
  {"version": "7.2.0", "build": "tasmota", "topic": "tight", "mac": "5C:CF:7F:00:01:02", "ip": "127.0.0.12",
   "program_kb": 550, "free_kb": 300},
  {"version": "14.2.0", "build": "tasmota32c3", "chip": "ESP32-C3", "topic": "c3", "mac": "5C:CF:7F:00:01:03", "ip": "127.0.0.13",
   "program_flash_kb": 2880, "program_kb": 1650, "free_kb": 1230}
]})J";

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// A raw HTTP exchange, so that nothing normalises the request line on the way.
std::string raw_http(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

int status_of(const std::string& response) { return response.size() >= 12 ? std::atoi(response.substr(9, 3).c_str()) : 0; }

struct OtaFleet {
  it::TempDir dir;
  it::Broker broker{dir};
  int ota_port = it::free_port();
  std::string db = dir.path("fleet.db");
  std::string fw = dir.path("firmware");
  std::string base = "http://127.0.0.1:" + std::to_string(ota_port);
  std::unique_ptr<it::Process> sim, fleet, watch;

  void add(const SyntheticImage& img, const std::string& name, const std::vector<std::string>& extra = {}) {
    write_bytes(dir.path(name), make_image(img));
    std::vector<std::string> argv{it::fleet_bin(), "--db", db, "--firmware-dir", fw, "firmware", "add", dir.path(name),
                                  "--version", img.version, "--build", img.build};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = it::run(argv);
    EXPECT_EQ(0, r.status) << r.out << r.err;
  }

  OtaFleet() {
    add({Chip::ESP8266, "9.1.0", "tasmota", 400 * 1024, true}, "t910.bin.gz");
    add({Chip::ESP8266, "8.5.1", "tasmota", 480 * 1024, false}, "t851.bin");
    add({Chip::ESP8266, "8.5.1", "tasmota-minimal", 250 * 1024, false}, "m851.bin");
    add({Chip::ESP32, "15.0.1", "tasmota32", 900 * 1024, false}, "t32.bin");
    it::write_file(dir.path("fleet.json"), kFleet);
    sim = it::start_sim(dir, broker.url(), {"--fleet", dir.path("fleet.json")});
    fleet = it::start_fleet(dir, {"--broker", broker.url(), "--firmware-dir", fw, "--ota-listen", "127.0.0.1:" + std::to_string(ota_port)});
    EXPECT_TRUE(it::wait_until([&] { return it::complete(db, 3) && it::port_open(ota_port); }, 30s)) << fleet->log();
    watch = std::make_unique<it::Process>(
        std::vector<std::string>{"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-t", "stat/+/UPGRADE", "-v"},
        dir.path("upgrade.log"));
    std::this_thread::sleep_for(300ms);
  }

  void upgrade(const std::string& topic, const std::string& path) {
    it::publish(broker.port(), "cmnd/" + topic + "/OtaUrl", base + "/" + path);
    it::publish(broker.port(), "cmnd/" + topic + "/Upgrade", "1");
  }

  std::string firmware_of(const std::string& mac) {
    auto d = it::by_mac(it::devices(db), mac);
    return d.is_null() || d["firmware"].is_null() ? "" : d["firmware"].get<std::string>();
  }
};

}  // namespace

TEST(Ota, DevicesUpgradeFromTheBuiltInServer) {
  OtaFleet f;
  ASSERT_FALSE(::testing::Test::HasFailure());
  // The plan points at the running server by default.
  auto plan = it::run({it::fleet_bin(), "plan", "--db", f.db, "--to", "9.1.0", "roomy", "--json"});
  ASSERT_EQ(0, plan.status) << plan.err;
  EXPECT_EQ(f.base + "/tasmota/release-9.1.0/tasmota.bin.gz", json::parse(plan.out)[0]["hops"][0]["url"]);

  f.upgrade("roomy", "tasmota/release-9.1.0/tasmota.bin.gz");
  f.upgrade("tight", "tasmota/release-8.5.1/tasmota.bin");  // 480 KB into 300 KB free: the minimal step
  f.upgrade("c3", "tasmota32/release-15.0.1/tasmota32.bin");  // an ESP32 image for an ESP32-C3
  EXPECT_TRUE(it::wait_until([&] { return f.firmware_of("5C:CF:7F:00:01:01") == "9.1.0(tasmota)"; }, 30s)) << f.fleet->log();
  EXPECT_TRUE(it::wait_until([&] { return f.firmware_of("5C:CF:7F:00:01:02") == "8.5.1(tasmota)"; }, 30s)) << f.fleet->log();
  EXPECT_TRUE(it::wait_until([&] { return it::read_file(f.dir.path("upgrade.log")).find("stat/c3/UPGRADE") != std::string::npos; }, 20s));
  auto log = it::read_file(f.dir.path("upgrade.log"));
  EXPECT_NE(std::string::npos, log.find(R"(stat/c3/UPGRADE {"Upgrade":"Failed Update error: Could Not Activate The Firmware"})")) << log;
  EXPECT_NE(std::string::npos, log.find(R"(stat/roomy/UPGRADE {"Upgrade":"Successful. Restarting"})")) << log;
  EXPECT_EQ("14.2.0(release-tasmota32c3)", f.firmware_of("5C:CF:7F:00:01:03"));

  // Boot count and uptime as after a restart.
  auto roomy = it::by_mac(it::devices(f.db), "5C:CF:7F:00:01:01");
  EXPECT_EQ(2, roomy["boot_count"]) << roomy.dump();

  // Every download is logged against the device that made it.
  f.fleet->stop();
  fleet::store::Database db(f.db);
  fleet::store::migrate(db);
  auto rows = fleet::store::SqliteDownloadLog(db).recent(50);
  std::map<std::string, std::vector<fleet::store::DownloadRow>> by_device;
  for (auto& r : rows) by_device[r.device_mac.value_or("?")].push_back(r);
  ASSERT_EQ(1u, by_device["5C:CF:7F:00:01:01"].size());
  EXPECT_TRUE(by_device["5C:CF:7F:00:01:01"][0].completed);
  EXPECT_EQ("127.0.0.11", by_device["5C:CF:7F:00:01:01"][0].client_ip);
  EXPECT_EQ(by_device["5C:CF:7F:00:01:01"][0].bytes_total, by_device["5C:CF:7F:00:01:01"][0].bytes_sent);
  // tight: the full image refused for space after its headers (the updater checks Content-Length before
  // reading the body: the download is logged incomplete), its minimal, then the full image again.
  std::vector<fleet::store::DownloadRow> t(by_device["5C:CF:7F:00:01:02"].rbegin(), by_device["5C:CF:7F:00:01:02"].rend());
  std::vector<std::string> tight;
  for (auto& r : t) tight.push_back(r.path);
  EXPECT_EQ((std::vector<std::string>{"tasmota/release-8.5.1/tasmota.bin", "tasmota/release-8.5.1/tasmota-minimal.bin",
                                      "tasmota/release-8.5.1/tasmota.bin"}),
            tight);
  ASSERT_EQ(3u, t.size());
  EXPECT_FALSE(t[0].completed);
  EXPECT_LT(t[0].bytes_sent, t[0].bytes_total);
  EXPECT_TRUE(t[1].completed);
  EXPECT_TRUE(t[2].completed);
  EXPECT_EQ(1u, by_device["5C:CF:7F:00:01:03"].size());
}

TEST(Ota, ServerServesOnlyTheStore) {
  it::TempDir dir;
  int port = it::free_port();
  std::string db = dir.path("fleet.db"), fw = dir.path("firmware");
  std::ofstream(dir.path("secret.txt")) << "not for devices";
  auto img = make_image({Chip::ESP8266, "9.1.0", "tasmota-minimal", 100 * 1024, false});
  write_bytes(dir.path("m.bin"), img);
  ASSERT_EQ(0, it::run({it::fleet_bin(), "--db", db, "--firmware-dir", fw, "firmware", "add", dir.path("m.bin"), "--version", "9.1.0",
                        "--build", "tasmota-minimal"}).status);
  auto fleet = it::start_fleet(dir, {"--broker", "mqtt://127.0.0.1:1", "--firmware-dir", fw, "--ota-listen", "127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(it::wait_until([&] { return it::port_open(port); }, 10s)) << fleet->log();

  auto ok = raw_http(port, "GET /tasmota/release-9.1.0/tasmota-minimal.bin HTTP/1.0\r\n\r\n");
  EXPECT_EQ(200, status_of(ok));
  EXPECT_NE(std::string::npos, ok.find("Content-Length: " + std::to_string(img.size()))) << ok.substr(0, 300);
  // Tasmota asks for NAME-minimal.bin beside NAME.bin: "mybuild.bin" -> "mybuild-minimal.bin".
  EXPECT_EQ(200, status_of(raw_http(port, "GET /tasmota/release-9.1.0/mybuild-minimal.bin HTTP/1.0\r\n\r\n")));
  for (std::string path : {"/../secret.txt", "/tasmota/../../secret.txt", "/%2e%2e/secret.txt", "/tasmota/%2E%2E/%2E%2E/secret.txt",
                           "/..%2fsecret.txt", "/fleet.db", "/.incoming/x.part", "/tasmota/release-9.1.0/", "/",
                           "/tasmota/release-9.1.0/tasmota.bin", "/tasmota\\..\\..\\secret.txt"}) {
    auto r = raw_http(port, "GET " + path + " HTTP/1.0\r\n\r\n");
    int st = status_of(r);
    EXPECT_GE(st, 400) << path;
    EXPECT_LT(st, 500) << path;
    EXPECT_EQ(std::string::npos, r.find("not for devices")) << path;
    EXPECT_EQ(std::string::npos, r.find("SQLite")) << path;
  }
  EXPECT_EQ(414, status_of(raw_http(port, "GET /" + std::string(20000, 'a') + " HTTP/1.0\r\n\r\n")));
  EXPECT_GE(status_of(raw_http(port, "POST /tasmota/release-9.1.0/tasmota-minimal.bin HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")), 400);
  EXPECT_GE(status_of(raw_http(port, "garbage\r\n\r\n")), 400);
  EXPECT_TRUE(fleet->running());
}

#include <httplib.h>

namespace {

// An upstream OTA server (ota.tasmota.com's layout) on loopback, serving a folder.
struct Upstream {
  it::TempDir dir;
  httplib::Server server;
  std::thread thread;
  int port = 0;
  Upstream() {
    server.set_mount_point("/", dir.str());
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~Upstream() {
    server.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  void put(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    std::filesystem::create_directories(std::filesystem::path(dir.path(path)).parent_path());
    write_bytes(dir.path(path), bytes);
  }
};

}  // namespace

TEST(FirmwareFetch, DownloadsWhatThePlanNeedsAndSaysWhatIsMissing) {
  Upstream up;
  it::TempDir dir;
  std::string db = dir.path("fleet.db"), fw = dir.path("fw");
  auto full = make_image({Chip::ESP8266, "9.1.0", "tasmota", 300 * 1024, true});
  up.put("tasmota/release-9.1.0/tasmota.bin.gz", full);
  up.put("tasmota/release-8.5.1/tasmota-lite.bin", make_image({Chip::ESP8266, "8.5.1", "tasmota-lite", 480 * 1024}));
  auto fetch = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv{it::fleet_bin(), "--db", db, "--firmware-dir", fw, "firmware", "fetch", "--upstream", up.url()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return it::run(argv);
  };
  // 7.2.0 -> 9.1.0: the 8.5.1 checkpoint (tasmota-lite, may need its minimal) and 9.1.0 (.gz from 8.5.1).
  auto r = fetch({"--from", "7.2.0", "--free-kb", "300", "--program-kb", "550", "--to", "9.1.0"});
  EXPECT_EQ(0, r.status) << r.out << r.err;  // the minimal image is missing upstream, but only optional
  EXPECT_NE(std::string::npos, r.out.find("missing (only for the -minimal step) tasmota/release-8.5.1/tasmota-minimal.bin")) << r.out;
  auto list = json::parse(it::run({it::fleet_bin(), "--db", db, "--firmware-dir", fw, "firmware", "list", "--json"}).out);
  ASSERT_EQ(2u, list.size()) << list.dump();
  EXPECT_EQ("tasmota/release-8.5.1/tasmota-lite.bin", list[0]["path"]);
  EXPECT_EQ("tasmota/release-9.1.0/tasmota.bin.gz", list[1]["path"]);
  EXPECT_NE(std::string::npos, list[1]["source"].get<std::string>().find("fetch " + up.url())) << list[1].dump();
  // Again: nothing to download.
  r = fetch({"--from", "8.5.1", "--to", "9.1.0"});
  EXPECT_EQ(0, r.status);
  EXPECT_NE(std::string::npos, r.out.find("1 already in the store, 0 fetched")) << r.out;
  // A required image upstream does not have: named, with where to put it; exit 1.
  r = fetch({"--from", "9.1.0", "--to", "12.5.0"});
  EXPECT_EQ(1, r.status);
  EXPECT_NE(std::string::npos, r.out.find("MISSING tasmota/release-12.5.0/tasmota.bin.gz")) << r.out;
  EXPECT_NE(std::string::npos, r.out.find("put it at " + fw + "/tasmota/release-12.5.0/tasmota.bin.gz")) << r.out;
  // A corrupt upstream file never enters the store, neither does one whose pinned SHA-256 differs.
  up.put("tasmota/release-12.5.0/tasmota.bin.gz", std::vector<std::uint8_t>(1000, 0x1f));
  r = fetch({"--from", "9.1.0", "--to", "12.5.0"});
  EXPECT_EQ(1, r.status);
  EXPECT_NE(std::string::npos, r.out.find("refused")) << r.out;
  up.put("tasmota/release-12.5.0/tasmota.bin.gz", make_image({Chip::ESP8266, "12.5.0", "tasmota", 300 * 1024, true}));
  it::write_file(dir.path("pin.json"), R"({"sha256": {"tasmota/release-12.5.0/tasmota.bin.gz": ")" + std::string(64, 'a') + R"("}})");
  r = fetch({"--from", "9.1.0", "--to", "12.5.0", "--catalog", dir.path("pin.json")});
  EXPECT_EQ(1, r.status);
  EXPECT_NE(std::string::npos, r.out.find("SHA-256 mismatch")) << r.out;
  EXPECT_FALSE(std::filesystem::exists(fw + "/tasmota/release-12.5.0/tasmota.bin.gz"));
  for (auto& e : std::filesystem::recursive_directory_iterator(fw)) EXPECT_EQ(std::string::npos, e.path().string().find(".part")) << e.path();
  // No network at all: the same clear list.
  r = it::run({it::fleet_bin(), "--db", db, "--firmware-dir", fw, "firmware", "fetch", "--upstream", "http://127.0.0.1:1", "--from", "9.1.0",
               "--to", "12.5.0"});
  EXPECT_EQ(1, r.status);
  EXPECT_NE(std::string::npos, r.out.find("MISSING tasmota/release-12.5.0/tasmota.bin.gz")) << r.out;
  // check: the plan's images are there and fit, or it says why not.
  auto check = it::run({it::fleet_bin(), "--db", db, "--firmware-dir", fw, "firmware", "check", "--from", "8.5.1", "--free-kb", "500",
                        "--program-kb", "500", "--to", "9.1.0"});
  EXPECT_EQ(0, check.status) << check.out;
  EXPECT_NE(std::string::npos, check.out.find("ready")) << check.out;
  check = it::run({it::fleet_bin(), "--db", db, "--firmware-dir", fw, "firmware", "check", "--from", "8.5.1", "--free-kb", "100",
                   "--program-kb", "500", "--to", "9.1.0"});
  EXPECT_EQ(1, check.status) << check.out;
  EXPECT_NE(std::string::npos, check.out.find("free program space")) << check.out;
}
