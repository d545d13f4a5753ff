#pragma once
// Hands broker events from Paho's thread to the single thread that owns the inventory. Bounded: when
// the consumer falls behind, Paho's thread waits, TCP pushes back on the broker, nothing is dropped.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace fleet::mqtt {

struct Event {
  // Subscribed: the broker acknowledged the subscriptions made after the last Connected. Wake: nothing
  // from the broker, only a turn of the loop now (a device's HTTP answer came in on another thread).
  enum Kind { Message, Connected, Subscribed, ConnectionLost, Wake } kind = Message;
  std::string topic;
  std::string payload;
  bool retained = false;
};

class EventQueue {
 public:
  explicit EventQueue(std::size_t capacity = 65536) : capacity_(capacity) {}

  void push(Event e) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return q_.size() < capacity_ || closed_; });
    if (closed_) return;
    q_.push_back(std::move(e));
    not_empty_.notify_one();
  }

  // Takes everything queued, waiting up to `wait` for the first event.
  std::vector<Event> pop_all(std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    not_empty_.wait_for(lock, wait, [&] { return !q_.empty() || closed_; });
    std::vector<Event> out(std::make_move_iterator(q_.begin()), std::make_move_iterator(q_.end()));
    q_.clear();
    not_full_.notify_all();
    return out;
  }

  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Event> q_;
  bool closed_ = false;
};

}  // namespace fleet::mqtt
