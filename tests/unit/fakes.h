#pragma once
// Fakes for unit tests of pure logic only; integration tests use the real broker and SQLite.
#include <stdexcept>
#include <string>
#include <vector>

#include "inventory/ports.h"

namespace fleet::testing {

struct FakeClock : core::Clock {
  std::int64_t t = 1'700'000'000'000;
  std::int64_t now_ms() const override { return t; }
  void advance(std::int64_t ms) { t += ms; }
};

struct FakeTransport : core::Transport {
  std::vector<std::pair<std::string, std::string>> sent;
  void publish(const std::string& topic, const std::string& payload) override { sent.emplace_back(topic, payload); }
  std::size_t count_to(const std::string& topic) const {
    std::size_t n = 0;
    for (const auto& [t, p] : sent) n += t == topic;
    return n;
  }
};

struct FakeStore : inventory::InventoryStore {
  std::vector<inventory::DeviceRecord> initial;
  std::vector<std::vector<inventory::DeviceRecord>> saves;
  bool fail_next = false;
  std::vector<inventory::DeviceRecord> load_devices() override { return initial; }
  void save_devices(const std::vector<inventory::DeviceRecord>& batch) override {
    if (fail_next) {
      fail_next = false;
      throw std::runtime_error("disk full");
    }
    saves.push_back(batch);
  }
  std::vector<std::string> forgotten;
  void forget_device(const std::string& mac) override { forgotten.push_back(mac); }
};

}  // namespace fleet::testing
