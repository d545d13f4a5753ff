#include "mqtt/paho_transport.h"

#include <algorithm>

#include <mqtt/async_client.h>

#include <chrono>
#include <limits>
#include <random>

#include "core/log.h"

namespace fleet::mqtt {
namespace {
std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

class PahoTransport::Callbacks final : public ::mqtt::callback, public ::mqtt::iaction_listener {
 public:
  explicit Callbacks(PahoTransport& owner) : owner_(owner) {}
  void connected(const std::string&) override { owner_.on_connected(); }
  void connection_lost(const std::string& cause) override { owner_.on_lost(cause); }
  void message_arrived(::mqtt::const_message_ptr msg) override {
    owner_.events_.push(Event{Event::Message, msg->get_topic(), msg->get_payload_str(), msg->is_retained()});
  }
  void delivery_complete(::mqtt::delivery_token_ptr) override {}
  // Connect attempt outcome.
  void on_failure(const ::mqtt::token& tok) override {
    owner_.on_connect_failed("connect failed (code " + std::to_string(tok.get_return_code()) + ")");
  }
  void on_success(const ::mqtt::token&) override {}

 private:
  PahoTransport& owner_;
};

// Subscribe outcome: consumers that send commands and wait for replies start only once the broker
// has acknowledged the subscriptions (a reply published before that would be lost to them).
class PahoTransport::SubscribeListener final : public ::mqtt::iaction_listener {
 public:
  explicit SubscribeListener(PahoTransport& owner) : owner_(owner) {}
  void on_success(const ::mqtt::token&) override { owner_.events_.push(Event{Event::Subscribed, {}, {}, false}); }
  void on_failure(const ::mqtt::token& tok) override {
    log::error("mqtt: the broker refused the subscriptions (code {})", tok.get_return_code());
  }

 private:
  PahoTransport& owner_;
};

PahoTransport::PahoTransport(BrokerConfig config, std::vector<std::string> filters, EventQueue& events)
    : config_(std::move(config)), filters_(std::move(filters)), events_(events) {
  ::mqtt::create_options opts(MQTTVERSION_3_1_1);
  // Paho counts every publish queued for its send thread against this limit (default 100), connected
  // or not: 200 jobs answering at once overflowed it and commands were dropped ("No more messages can be
  // buffered", bench/rollout), each costing its job a reply timeout.
  opts.set_max_buffered_messages(65536);
  client_ = std::make_unique<::mqtt::async_client>(config_.paho_uri(), config_.client_id, opts, nullptr);
  callbacks_ = std::make_unique<Callbacks>(*this);
  subscribe_listener_ = std::make_unique<SubscribeListener>(*this);
  client_->set_callback(*callbacks_);
}

PahoTransport::~PahoTransport() {
  stop();
  // No callback may run once the members it uses start going: a disconnect that timed out under heavy
  // traffic left Paho's thread delivering messages into a half-destroyed transport (a segfault at the
  // end of about one bench/ingest run in fifteen).
  if (client_) {
    try {
      client_->disable_callbacks();
    } catch (const std::exception&) {  // (refused while a connect is in flight: the reset below still ends them)
    }
    client_.reset();
  }
}

void PahoTransport::add_filters(const std::vector<std::string>& filters) {
  for (const auto& f : filters)
    if (std::find(filters_.begin(), filters_.end(), f) == filters_.end()) filters_.push_back(f);
}

void PahoTransport::start() {
  log::info("mqtt: connecting to {}", config_.describe());
  connect();
}

void PahoTransport::connect() {
  std::lock_guard lock(connect_mu_);
  if (stopping_ || connected_ || connecting_) return;
  auto builder = ::mqtt::connect_options_builder()
                     .clean_session(true)
                     .keep_alive_interval(std::chrono::seconds(config_.keepalive_s))
                     .connect_timeout(std::chrono::seconds(kConnectTimeoutS))
                     .automatic_reconnect(false);  // our own backoff, so initial failures retry too
  if (!config_.username.empty()) builder.user_name(config_.username);
  if (!config_.password.empty()) builder.password(config_.password);
  if (!config_.status_topic.empty()) builder.will(::mqtt::message(config_.status_topic, config_.will_offline, 1, true));
  if (config_.tls()) {
    auto ssl = ::mqtt::ssl_options_builder()
                   .enable_server_cert_auth(!config_.insecure)
                   .verify(!config_.insecure)
                   .error_handler([](const std::string& msg) { log::warn("mqtt: TLS: {}", msg); })
                   .finalize();
    if (!config_.ca_file.empty()) ssl.set_trust_store(config_.ca_file);
    if (!config_.cert_file.empty()) ssl.set_key_store(config_.cert_file);
    if (!config_.key_file.empty()) ssl.set_private_key(config_.key_file);
    builder.ssl(std::move(ssl));
  }
  connecting_ = true;
  connect_started_ms_ = wall_ms();
  try {
    client_->connect(builder.finalize(), nullptr, *callbacks_);
  } catch (const std::exception& e) {
    connecting_ = false;
    on_connect_failed(e.what());
  }
}

void PahoTransport::on_connect_failed(const std::string& why) {
  connecting_ = false;
  int next = backoff_s_ == 0 ? config_.min_retry_s : std::min(backoff_s_ * 2, config_.max_retry_s);
  backoff_s_ = next;
  // Jitter keeps many daemons (or a restarted broker's clients) from retrying in lockstep.
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::int64_t delay_ms = next * 1000LL + std::uniform_int_distribution<int>(0, 250)(rng);
  retry_at_ms_ = wall_ms() + delay_ms;
  log::warn("mqtt: {}: {}; retrying in {} ms", config_.describe(), why, delay_ms);
}

void PahoTransport::on_connected() {
  connecting_ = false;
  connected_ = true;
  backoff_s_ = 0;
  log::info("mqtt: connected to {}", config_.url);
  // The consumer hears of the connection before any retained message of the new subscriptions.
  events_.push(Event{Event::Connected, {}, {}, false});
  try {
    if (!config_.status_topic.empty()) client_->publish(config_.status_topic, config_.birth_online.data(), config_.birth_online.size(), 1, true);
    // State topics published while we were away are put back (the broker may have restarted without them).
    std::lock_guard lock(retained_mu_);
    for (auto& [t, p] : retained_) client_->publish(t, p.data(), p.size(), 1, true);
  } catch (const std::exception& e) {
    log::warn("mqtt: status publish failed: {}", e.what());
  }
  try {
    auto topics = std::make_shared<::mqtt::string_collection>(filters_);
    std::vector<int> qos(filters_.size(), 0);
    client_->subscribe(topics, qos, nullptr, *subscribe_listener_);
  } catch (const std::exception& e) {
    log::error("mqtt: subscribe failed: {}", e.what());
  }
}

void PahoTransport::on_lost(const std::string& cause) {
  // No attempt before the backoff is set below: the loop's maintain() sees connected_ false at once, and a
  // connect while Paho still tears the lost session down is ignored by it ("MQTT error [-18]").
  retry_at_ms_ = std::numeric_limits<std::int64_t>::max();
  connected_ = false;
  events_.push(Event{Event::ConnectionLost, {}, {}, false});
  if (!stopping_) on_connect_failed("connection lost" + (cause.empty() ? std::string() : ": " + cause));
}

void PahoTransport::maintain(std::int64_t now_ms) {
  if (stopping_ || connected_) return;
  // An attempt whose outcome never came: Paho drops the callback of a connect it took while its previous
  // session was still being torn down (seen after "MQTT error [-18]" when the broker restarted). Without
  // this the daemon would never try again.
  if (connecting_ && wall_ms() - connect_started_ms_ > kConnectTimeoutS * 1000 + 5000) {
    log::warn("mqtt: {}: no outcome of the connection attempt in {} s; trying again", config_.describe(), kConnectTimeoutS + 5);
    connecting_ = false;
    retry_at_ms_ = 0;
  }
  if (connecting_) return;
  if (now_ms >= retry_at_ms_) connect();
}

void PahoTransport::stop() {
  if (stopping_.exchange(true)) return;
  try {
    if (client_ && client_->is_connected() && !config_.status_topic.empty())
      client_->publish(config_.status_topic, config_.will_offline.data(), config_.will_offline.size(), 1, true)->wait_for(std::chrono::seconds(2));
  } catch (const std::exception&) {
  }
  try {
    if (client_ && client_->is_connected()) client_->disconnect(std::chrono::milliseconds(500))->wait_for(std::chrono::seconds(2));
  } catch (const std::exception&) {
  }
  connected_ = false;
}

void PahoTransport::publish(const std::string& topic, const std::string& payload) {
  if (!connected_) {
    ++dropped_;
    return;
  }
  try {
    client_->publish(topic, payload.data(), payload.size(), 0, false);
  } catch (const std::exception& e) {
    // A lost command costs its job a reply timeout: say so (the first ones, then every thousandth).
    auto n = ++dropped_;
    if (n <= 10 || n % 1000 == 0) log::warn("mqtt: publish to {} dropped ({} so far): {}", topic, n, e.what());
  }
}

void PahoTransport::publish_retained_uncached(const std::string& topic, const std::string& payload) {
  {
    std::lock_guard lock(retained_mu_);
    retained_.erase(topic);  // (in case it was published kept before)
  }
  send_retained(topic, payload);  // not connected: its caller sends it again once connected
}

void PahoTransport::publish_retained(const std::string& topic, const std::string& payload) {
  {
    std::lock_guard lock(retained_mu_);
    if (payload.empty())
      retained_.erase(topic);
    else
      retained_[topic] = payload;
  }
  send_retained(topic, payload);  // not connected: sent on the next connect
}

void PahoTransport::send_retained(const std::string& topic, const std::string& payload) {
  if (!connected_) return;
  try {
    client_->publish(topic, payload.data(), payload.size(), 1, true);
  } catch (const std::exception& e) {
    log::debug("mqtt: retained publish to {} not sent: {}", topic, e.what());
  }
}

}  // namespace fleet::mqtt
