#include "inventory/inventory.h"

#include "core/log.h"
#include "inventory/payloads.h"
#include "mqtt/fallback_topic.h"
#include "planner/version.h"

namespace fleet::inventory {

Inventory::Inventory(mqtt::TopicScheme scheme, core::Transport& transport, InventoryStore& store, const core::Clock& clock,
                     InventoryOptions options)
    : scheme_(std::move(scheme)),
      transport_(transport),
      store_(store),
      clock_(clock),
      opt_(options),
      limiter_(options.status_queries_per_s, options.status_query_burst) {
  last_flush_ms_ = clock_.now_ms();
}

std::optional<std::string> fallback_topic_of(const DeviceRecord& d) {
  if (!d.mqtt_client || d.mqtt_client->empty() || !d.version) return std::nullopt;
  auto v = planner::Version::parse(*d.version);
  // "_fb" arrived in 6.4.1 (Tasmota #1528); before, the fallback topic was the bare MqttClient, a name a
  // device could carry as its Topic too: not used.
  if (!v || *v < planner::Version{6, 4, 1, 0}) return std::nullopt;
  if (d.full_topic && d.full_topic->find("%topic%") == std::string::npos) return std::nullopt;
  return mqtt::fallback_of(*d.mqtt_client);
}

void Inventory::load() {
  for (auto& rec : store_.load_devices()) {
    std::string mac = rec.mac;
    if (rec.topic) topics_[*rec.topic].mac = mac;
    remember_fallbacks(rec);
    remember_ip(rec);
    devices_.emplace(mac, std::move(rec));
  }
  log::info("inventory: {} devices from the store", devices_.size());
}

Inventory::TopicState* Inventory::topic_state(const std::string& topic) {
  auto it = topics_.find(topic);
  if (it != topics_.end()) return &it->second;
  if (topics_.size() >= opt_.max_tracked_topics) return nullptr;
  return &topics_[topic];
}

DeviceRecord& Inventory::record(const std::string& mac) {
  auto [it, inserted] = devices_.try_emplace(mac);
  if (inserted) {
    it->second.mac = mac;
    it->second.first_seen_ms = clock_.now_ms();
    remember_fallbacks(it->second);
    log::info("inventory: new device {}", mac);
  }
  return it->second;
}

void Inventory::mark_dirty(const std::string& mac) { dirty_.insert(mac); }

std::vector<std::string> Inventory::follow_default_topics() {
  mqtt::TopicScheme d;
  bool same = d.full_topic() == scheme_.full_topic();
  for (auto p : {mqtt::Prefix::Command, mqtt::Prefix::Stat, mqtt::Prefix::Tele}) same = same && d.prefix_name(p) == scheme_.prefix_name(p);
  if (same) return {};
  defaults_ = d;
  auto filters = d.inventory_filters();
  std::erase(filters, std::string(mqtt::kDiscoveryFilter));  // already subscribed once
  return filters;
}

void Inventory::on_message(std::string_view topic_in, std::string_view payload, bool retained) {
  ++stats_.messages;
  if (payload.size() > opt_.max_payload_bytes) {
    ++stats_.oversized;
    auto parts = scheme_.parse(topic_in);
    std::string key = parts ? parts->device_topic : std::string(topic_in.substr(0, 128));
    note_bad(key, parts ? topic_state(key) : nullptr,
             "payload of " + std::to_string(payload.size()) + " bytes is over the limit");
    return;
  }
  if (auto mac = mqtt::discovery_mac(topic_in)) {
    handle_discovery(*mac, payload);
    return;
  }
  // Only a known device's fallback topic (its learned MqttClient's, or the default one a device with a
  // custom MqttClient answers on after Reset 6): a device whose own Topic ends in "_fb" is heard as usual.
  if (auto fb = mqtt::parse_fallback(topic_in); fb && fb->prefix == mqtt::Prefix::Stat) {
    if (handle_fallback_reply(fb->device_topic, fb->suffix, payload, retained)) return;
  }
  auto parts = scheme_.parse(topic_in);
  bool on_defaults = false;
  if (!parts && defaults_) {
    parts = defaults_->parse(topic_in);
    on_defaults = parts.has_value();
  }
  if (!parts || parts->prefix == mqtt::Prefix::Command) {
    ++stats_.unknown_topics;
    // Once per topic while the set has room (it is bounded; past that the budget alone limits the lines).
    bool repeated = logged_unknown_.size() < 1000 ? !logged_unknown_.insert(std::string(topic_in.substr(0, 256))).second
                                                  : false;
    if (!repeated && sender_warnings_.allow(clock_.now_ms()))
      log::warn("inventory: ignoring topic '{}': not a Tasmota device topic under FullTopic '{}'",
                log::safe(topic_in.substr(0, 256)), scheme_.full_topic());
    return;
  }
  auto kind = classify(parts->prefix == mqtt::Prefix::Tele, parts->suffix);
  if (kind == MessageKind::Ignored) return;
  TopicState* ts = topic_state(parts->device_topic);
  if (!ts) {
    ++stats_.unknown_topics;
    return;
  }
  ts->on_defaults = on_defaults;
  auto result = parse_payload(kind, payload);
  if (!result.ok()) {
    ++stats_.rejected;
    note_bad(parts->device_topic, ts, parts->suffix + ": " + result.error);
    return;
  }
  if (!result.dropped.empty()) {
    stats_.dropped_fields += result.dropped.size();
    note_bad(parts->device_topic, ts, parts->suffix + ": " + result.dropped.front());
  }
  DeviceFacts& f = result.facts;
  // The topic we heard it on is how we address the device, whatever its Status says.
  f.topic = parts->device_topic;
  bool live = !retained;
  if (live && !f.online) f.online = true;  // a device that talks is online; retained echoes say nothing
  if (kind == MessageKind::Status) {
    ts->awaiting = false;
    ts->tries = 0;
  }
  bool was_online = ts->mac.empty() ? (ts->pending && ts->pending->online.value_or(false)) : devices_[ts->mac].online;
  apply(parts->device_topic, *ts, f, live);
  ++stats_.applied;
  ++applied_since_flush_;
  if (kind == MessageKind::State && !ts->mac.empty()) {
    auto now = clock_.now_ms();
    if (stats_.state_messages++ == 0) stats_.first_state_ms = now;
    stats_.last_state_ms = now;
    ++states_since_flush_;
  }

  // First seen, or back Online: ask for the whole picture.
  bool identified = !ts->mac.empty();
  bool back_online = f.online.value_or(false) && (!was_online || ts->asked_ms < 0);
  // (A Status reply is the answer itself, never a reason to ask.)
  if (kind != MessageKind::Status && f.online.value_or(false) && (!identified || back_online))
    queue_query(parts->device_topic, *ts);
}

void Inventory::handle_discovery(std::string_view mac_in_topic, std::string_view payload) {
  auto result = parse_payload(MessageKind::Discovery, payload);
  if (!result.ok()) {
    ++stats_.rejected;
    note_bad("discovery/" + std::string(mac_in_topic.substr(0, 32)), nullptr, result.error);
    return;
  }
  DeviceFacts& f = result.facts;
  if (normalize_mac(mac_in_topic) != *f.mac) {
    ++stats_.rejected;
    note_bad("discovery/" + std::string(mac_in_topic.substr(0, 32)), nullptr, "mac in topic and payload differ");
    return;
  }
  stats_.dropped_fields += result.dropped.size();
  DeviceRecord& rec = record(*f.mac);
  if (rec.firmware) f.version.reset();  // discovery's "sw" has no build; Status already told us more
  if (f.topic) {
    TopicState* ts = topic_state(*f.topic);
    if (ts) identify(*f.topic, *ts, *f.mac);
  }
  if (merge(rec, f)) mark_dirty(rec.mac);
  ++stats_.applied;
  ++applied_since_flush_;
}

void Inventory::apply(const std::string& topic, TopicState& ts, DeviceFacts& f, bool live) {
  if (f.mac) identify(topic, ts, *f.mac);
  if (ts.mac.empty()) {
    if (!ts.pending) ts.pending = std::make_unique<DeviceFacts>();
    merge_facts(*ts.pending, f);
    return;
  }
  DeviceRecord& rec = devices_[ts.mac];
  bool changed = merge(rec, f);
  auto now = clock_.now_ms();
  if (live) {
    rec.last_seen_ms = now;
    changed = true;
  }
  if (f.status_reply) rec.status_at_ms = now;
  if (changed) mark_dirty(rec.mac);
}

// A device's answer on its own fallback topic (a job's command went there): it is that device's, found by
// its MqttClient; its Topic stays what it is. A reply naming another MAC there is not believed.
bool Inventory::handle_fallback_reply(const std::string& fallback, const std::string& suffix, std::string_view payload,
                                      bool retained) {
  auto who = by_fallback_.find(fallback);
  if (who == by_fallback_.end()) return false;  // not a fallback topic we know: perhaps a Topic of its own
  auto kind = classify(false, suffix);
  if (kind == MessageKind::Ignored) return true;
  auto result = parse_payload(kind, payload);
  if (!result.ok()) {
    ++stats_.rejected;
    return true;
  }
  DeviceFacts& f = result.facts;
  if (f.mac && *f.mac != who->second) return true;
  DeviceRecord& rec = devices_[who->second];
  f.topic.reset();
  f.mac.reset();
  if (!retained) {
    rec.online = true;
    rec.last_seen_ms = clock_.now_ms();
  }
  merge(rec, f);
  if (f.status_reply) rec.status_at_ms = clock_.now_ms();
  ++stats_.applied;
  mark_dirty(rec.mac);
  return true;
}

// The fallback topics a device answers on: its learned MqttClient's, and its default one's (where it
// answers after a Reset 6 whatever its own client was).
void Inventory::remember_fallbacks(const DeviceRecord& rec) {
  if (rec.mqtt_client) by_fallback_[mqtt::fallback_of(*rec.mqtt_client)] = rec.mac;
  by_fallback_.try_emplace(mqtt::fallback_of(mqtt::default_mqtt_client(rec.mac)), rec.mac);
}

void Inventory::identify(const std::string& topic, TopicState& ts, const std::string& mac) {
  if (ts.mac == mac) return;
  if (!ts.mac.empty()) {
    // Two devices answering on one topic (a copied configuration, or a forged reply): a conflict, unless
    // the first one has moved on (another topic) or is gone.
    auto first = devices_.find(ts.mac);
    if (first != devices_.end() && first->second.topic == topic && first->second.online) {
      auto& c = conflicts_[topic];
      bool is_new = c.insert(ts.mac).second;
      is_new = c.insert(mac).second || is_new;
      if (is_new) log::warn("inventory: topic '{}' is used by two devices ({} and {}): no job sends it commands until one moves", topic, ts.mac, mac);
    } else {
      log::info("inventory: topic '{}' moved from {} to {}", topic, ts.mac, mac);
    }
  }
  DeviceRecord& rec = record(mac);
  if (rec.topic && *rec.topic != topic) {
    // It left its old topic: that one is no longer shared because of it.
    auto c = conflicts_.find(*rec.topic);
    if (c != conflicts_.end()) {
      c->second.erase(mac);
      if (c->second.size() < 2) conflicts_.erase(c);
    }
    // Same device, new topic: it stays one record and the old topic no longer points at it.
    log::info("inventory: {} changed topic '{}' -> '{}'", mac, *rec.topic, topic);
    auto old = topics_.find(*rec.topic);
    if (old != topics_.end() && old->second.mac == mac) old->second.mac.clear();
  }
  ts.mac = mac;
  rec.topic = topic;
  if (ts.pending) {
    merge(rec, *ts.pending);
    if (ts.pending->status_reply) rec.status_at_ms = clock_.now_ms();
    ts.pending.reset();
  }
  rec.bad_payloads += ts.bad;
  ts.bad = 0;
  mark_dirty(mac);
}

void Inventory::note_bad(const std::string& topic, TopicState* ts, const std::string& reason) {
  bool first = true;
  if (ts) {
    first = !ts->logged_bad;
    ts->logged_bad = true;
    if (!ts->mac.empty()) {
      ++devices_[ts->mac].bad_payloads;
      mark_dirty(ts->mac);
    } else {
      ++ts->bad;
    }
  } else if (logged_unknown_.size() < 1000) {
    first = logged_unknown_.insert(topic).second;
  }
  // Once per device, within the fleet-wide budget: a device that keeps sending garbage, or a broker full
  // of strangers, must not flood the log.
  if (first && sender_warnings_.allow(clock_.now_ms()))
    log::warn("inventory: bad payload from '{}': {} (further ones only counted)", log::safe(topic), log::safe(reason));
}

void Inventory::queue_query(const std::string& topic, TopicState& ts) {
  if (ts.queued) return;
  ts.queued = true;
  query_queue_.push_back(topic);
}

void Inventory::send_queries(std::int64_t now) {
  while (!query_queue_.empty() && limiter_.try_acquire(now)) {
    std::string topic = std::move(query_queue_.front());
    query_queue_.pop_front();
    auto it = topics_.find(topic);
    if (it == topics_.end()) continue;
    TopicState& ts = it->second;
    ts.queued = false;
    ts.asked_ms = now;
    ts.awaiting = true;
    ++ts.tries;
    const auto& scheme = ts.on_defaults && defaults_ ? *defaults_ : scheme_;
    transport_.publish(scheme.topic(mqtt::Prefix::Command, topic, "STATUS"), "0");
    ++stats_.status_queries;
  }
}

void Inventory::retry_unanswered(std::int64_t now) {
  for (auto& [topic, ts] : topics_) {
    auto wait = ts.tries <= 1 ? std::min(opt_.status_first_retry_ms, opt_.status_retry_ms) : opt_.status_retry_ms;
    if (!ts.awaiting || ts.queued || now - ts.asked_ms < wait) continue;
    bool online = ts.mac.empty() || devices_[ts.mac].online;
    if (online && ts.tries < opt_.status_max_tries) {
      queue_query(topic, ts);
    } else {
      ts.awaiting = false;  // gone, or not answering: wait for it to come back Online
      if (online) log::warn("inventory: '{}' did not answer Status 0 after {} tries", topic, ts.tries);
    }
  }
}

void Inventory::on_connected() {
  // Messages may have been missed while we were away: every device gets asked again when it shows
  // up Online (its retained LWT arrives right after we subscribe), and the ones we believe online now.
  for (auto& [topic, ts] : topics_) {
    ts.asked_ms = -1;
    ts.tries = 0;
    ts.awaiting = false;
    if (!ts.mac.empty() && devices_[ts.mac].online) queue_query(topic, ts);
  }
}

void Inventory::tick() {
  auto now = clock_.now_ms();
  if (auto line = sender_warnings_.summary(now, "warnings about unknown topics or bad payloads")) log::warn("inventory: {}", *line);
  send_queries(now);
  if (now - last_retry_scan_ms_ >= 1000) {
    last_retry_scan_ms_ = now;
    retry_unanswered(now);
  }
  if (!dirty_.empty() && (now - last_flush_ms_ >= opt_.flush_interval_ms || dirty_.size() >= opt_.flush_max_dirty))
    flush();
}

bool Inventory::flush() {
  last_flush_ms_ = clock_.now_ms();
  if (!dirty_.empty()) {
    std::vector<DeviceRecord> batch;
    batch.reserve(dirty_.size());
    for (const auto& mac : dirty_) batch.push_back(devices_[mac]);
    try {
      store_.save_devices(batch);
    } catch (const std::exception& e) {
      ++stats_.store_errors;
      log::error("inventory: writing {} records failed, kept for retry: {}", batch.size(), e.what());
      return false;
    }
    dirty_.clear();
    ++stats_.flushes;
    stats_.rows_written += batch.size();
  }
  // Everything applied so far is now in the store (or changed nothing that needed storing).
  stats_.persisted_messages += applied_since_flush_;
  applied_since_flush_ = 0;
  if (states_since_flush_ > 0) {
    stats_.state_persisted += states_since_flush_;
    stats_.last_persist_ms = clock_.now_ms();
    states_since_flush_ = 0;
  }
  return true;
}

std::optional<std::string> Inventory::forget(const std::string& mac) {
  auto it = devices_.find(mac);
  if (it == devices_.end()) return "not in the inventory";
  if (it->second.online) return "it is online: it would be found again at its next message (take it off the broker first)";
  store_.forget_device(mac);  // first: if the store fails, nothing is forgotten
  std::erase_if(topics_, [&](const auto& kv) { return kv.second.mac == mac; });
  std::erase_if(by_fallback_, [&](const auto& kv) { return kv.second == mac; });
  std::erase_if(by_ip_, [&](const auto& kv) { return kv.second == mac; });
  for (auto& [topic, macs] : conflicts_) macs.erase(mac);
  std::erase_if(conflicts_, [](const auto& kv) { return kv.second.size() < 2; });
  dirty_.erase(mac);
  devices_.erase(it);
  return std::nullopt;
}

std::vector<DeviceRecord> Inventory::devices() const {
  std::vector<DeviceRecord> out;
  out.reserve(devices_.size());
  for (const auto& [mac, rec] : devices_) out.push_back(rec);
  return out;
}

std::optional<std::string> Inventory::conflict_of(const std::string& mac) const {
  if (conflicts_.empty()) return std::nullopt;  // (nearly always: asked for every device that may start)
  auto d = devices_.find(mac);
  if (d == devices_.end() || !d->second.topic) return std::nullopt;
  auto c = conflicts_.find(*d->second.topic);
  if (c == conflicts_.end() || !c->second.count(mac)) return std::nullopt;
  std::string others;
  for (auto& m : c->second)
    if (m != mac) others += (others.empty() ? "" : ", ") + m;
  return "its topic '" + *d->second.topic + "' is also used by " + others;
}

bool Inventory::merge(DeviceRecord& rec, const DeviceFacts& f) {
  bool changed = rec.merge(f);
  if (f.mqtt_client) remember_fallbacks(rec);
  if (f.ip) remember_ip(rec);
  return changed;
}

void Inventory::remember_ip(const DeviceRecord& rec) {
  if (rec.ip) by_ip_[*rec.ip] = rec.mac;
}

const DeviceRecord* Inventory::find_by_ip(std::string_view ip) const {
  // An entry left by a device that moved to another address is not believed: that device no longer has it.
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end()) return nullptr;
  const auto* d = find(it->second);
  return d && d->ip && *d->ip == ip ? d : nullptr;
}

const DeviceRecord* Inventory::find(std::string_view mac) const {
  auto it = devices_.find(mac);
  return it == devices_.end() ? nullptr : &it->second;
}

}  // namespace fleet::inventory
