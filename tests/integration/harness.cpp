#include "harness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace it {

std::string fleet_bin() { return FLEET_BIN; }
std::string sim_bin() { return SIM_BIN; }

static sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

// A port below Linux's ephemeral range (32768-60999), so that no outgoing connection of the processes
// under test (the simulator opens hundreds) can take it between this choice and the bind; random, so
// that tests running in parallel do not pick the same one.
int free_port() {
  static std::mt19937 rng(static_cast<unsigned>(std::random_device{}()) ^ static_cast<unsigned>(getpid()));
  std::uniform_int_distribution<int> pick(20000, 32000);
  for (int attempt = 0; attempt < 200; ++attempt) {
    int port = pick(rng);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    auto a = loopback(port);
    bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (ok) return port;
  }
  throw std::runtime_error("no free loopback port between 20000 and 32000");
}

bool port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  auto a = loopback(port);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

namespace {
pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd, const std::map<std::string, std::string>& env) {
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}
}  // namespace

RunResult run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
  char out_t[] = "/tmp/fleet-run-out-XXXXXX";
  char err_t[] = "/tmp/fleet-run-err-XXXXXX";
  int out = mkstemp(out_t), err = mkstemp(err_t);
  pid_t pid = spawn(argv, out, err, env);
  int status = 0;
  waitpid(pid, &status, 0);
  close(out);
  close(err);
  RunResult r{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), read_file(out_t), read_file(err_t)};
  unlink(out_t);
  unlink(err_t);
  return r;
}

TempDir::TempDir() {
  char t[] = "/tmp/fleet-it-XXXXXX";
  if (!mkdtemp(t)) throw std::runtime_error("mkdtemp failed");
  dir_ = t;
}
TempDir::~TempDir() {
  if (!std::getenv("FLEET_KEEP_TMP")) std::filesystem::remove_all(dir_);
}

Process::Process(std::vector<std::string> argv, std::string log_path, std::map<std::string, std::string> env)
    : log_path_(std::move(log_path)) {
  int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_ = spawn(argv, fd, fd, env);
  close(fd);
}

Process::~Process() {
  if (pid_ > 0) stop(SIGKILL);
}

bool Process::running() {
  if (pid_ <= 0) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    pid_ = -1;
    return false;
  }
  return true;
}

void Process::signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

int Process::stop(int sig, std::chrono::milliseconds grace) {
  if (pid_ > 0) {
    kill(pid_, sig);
    if (!wait_until([&] { return !running(); }, grace)) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
      pid_ = -1;
    }
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

Broker::Broker(const TempDir& dir, BrokerOptions options) : dir_(dir), opt_(std::move(options)), port_(free_port()) {
  std::string conf = "listener " + std::to_string(port_) + " 127.0.0.1\npersistence false\nmax_connections -1\n";
  // As root mosquitto would drop to user 'mosquitto', which cannot read this test's private files.
  if (geteuid() == 0) conf += "user root\n";
  if (opt_.tls) {
    // A throw-away CA and a server certificate for 127.0.0.1/localhost, made with the openssl command.
    std::string d = dir_.str();
    std::string script =
        "set -e; cd '" + d + "';"
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj '/CN=fleet-test-ca' 2>/dev/null;"
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost' 2>/dev/null;"
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext;"
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile san.ext 2>/dev/null";
    if (run({"bash", "-c", script}).status != 0) throw std::runtime_error("openssl failed");
    ca_ = dir_.path("ca.crt");
    conf += "cafile " + ca_ + "\ncertfile " + dir_.path("server.crt") + "\nkeyfile " + dir_.path("server.key") + "\n";
  }
  if (!opt_.username.empty()) {
    std::string pw = dir_.path("passwords");
    write_file(pw, "");
    if (run({"mosquitto_passwd", "-b", pw, opt_.username, opt_.password}).status != 0)
      throw std::runtime_error("mosquitto_passwd failed");
    for (auto& [u, p] : opt_.more_users)
      if (run({"mosquitto_passwd", "-b", pw, u, p}).status != 0) throw std::runtime_error("mosquitto_passwd failed");
    conf += "allow_anonymous false\npassword_file " + pw + "\n";
  } else {
    conf += "allow_anonymous true\n";
  }
  if (!opt_.acl.empty()) {
    write_file(dir_.path("acl"), opt_.acl);
    conf += "acl_file " + dir_.path("acl") + "\n";
  }
  conf_ = dir_.path("mosquitto.conf");
  write_file(conf_, conf);
  start();
}

void Broker::start() {
  proc_ = std::make_unique<Process>(std::vector<std::string>{"mosquitto", "-c", conf_}, dir_.path("mosquitto.log"));
  if (!wait_until([&] { return port_open(port_); }, std::chrono::seconds(10)))
    throw std::runtime_error("mosquitto did not start: " + read_file(dir_.path("mosquitto.log")));
}

void Broker::stop() {
  if (proc_) proc_->stop(SIGKILL);
  proc_.reset();
}

std::string Broker::url() const { return std::string(opt_.tls ? "mqtts://127.0.0.1:" : "mqtt://127.0.0.1:") + std::to_string(port_); }

nlohmann::json devices(const std::string& db) {
  auto r = run({fleet_bin(), "devices", "--db", db, "--json"});
  if (r.status != 0) return nlohmann::json::array();
  return nlohmann::json::parse(r.out, nullptr, false);
}

nlohmann::json by_mac(const nlohmann::json& list, const std::string& mac) {
  for (const auto& d : list)
    if (d["mac"] == mac) return d;
  return {};
}

bool complete(const std::string& db, size_t n) {
  auto list = devices(db);
  if (!list.is_array() || list.size() != n) return false;
  for (const auto& d : list)
    if (d["version"].is_null() || d["free_kb"].is_null() || !d["online"].get<bool>()) return false;
  return true;
}

std::unique_ptr<Process> start_sim(const TempDir& dir, const std::string& url, std::vector<std::string> extra,
                                   std::map<std::string, std::string> env) {
  std::vector<std::string> argv{sim_bin(), "--broker", url, "--ready-file", dir.path("sim.ready"),
                                "--reconnect-delay-ms", "300", "--restart-delay-ms", "500", "--first-state-ms", "200"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto p = std::make_unique<Process>(argv, dir.path("sim.log"), env);
  EXPECT_TRUE(wait_until([&] { return std::filesystem::exists(dir.path("sim.ready")); }, std::chrono::seconds(20))) << p->log();
  return p;
}

std::unique_ptr<Process> start_fleet(const TempDir& dir, std::vector<std::string> args, std::map<std::string, std::string> env) {
  std::vector<std::string> argv{fleet_bin(), "serve", "--db", dir.path("fleet.db"), "--log-level", "info"};
  bool ota_given = std::any_of(args.begin(), args.end(), [](const std::string& a) { return a.rfind("--ota-listen", 0) == 0 || a == "--no-ota"; });
  if (!ota_given) argv.insert(argv.end(), {"--ota-listen", "127.0.0.1:0"});
  argv.insert(argv.end(), args.begin(), args.end());
  return std::make_unique<Process>(argv, dir.path("fleet.log"), env);
}

void publish(int broker_port, const std::string& topic, const std::string& payload) {
  auto r = run({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker_port), "-t", topic, "-m", payload, "-q", "1"});
  EXPECT_EQ(0, r.status) << r.err;
}

std::vector<Received> received_by(const std::string& command_log, const std::string& device) {
  // A simulator still running may be halfway through writing its last line: only lines ended by their
  // newline are complete (read mid-write, a cut line was taken for a malformed one).
  auto text = read_file(command_log);
  text.erase(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  std::istringstream lines(text);
  std::vector<Received> out;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      ADD_FAILURE() << command_log << ": not a JSON line: " << line;
      continue;
    }
    if (j.value("device", "") != device && j.value("mac", "") != device) continue;
    auto topic = j.value("topic", "");
    out.push_back({topic, topic.substr(topic.rfind('/') + 1) + " " + j.value("payload", ""), j.value("dropped", false)});
  }
  return out;
}

int received(const std::string& command_log, const std::string& device, const std::string& command) {
  int n = 0;
  for (auto& r : received_by(command_log, device)) n += r.command.rfind(command, 0) == 0;
  return n;
}

}  // namespace it
