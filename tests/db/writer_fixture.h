// writer_fixture.h — helpers for the db::Writer tests: an operation's outcome as its done
// callback delivers it.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>

namespace db::testing {

// One operation's outcome, filled by its done callback (which runs on the writer thread). A second
// call would throw std::future_error there and end the test binary: "exactly once" is checked.
template <typename T>
class Outcome {
 public:
  std::function<void(T)> Callback() {
    return [promise = promise_](T value) { promise->set_value(std::move(value)); };
  }
  T Get() { return future_.get(); }
  bool Ready() const {
    return future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }

 private:
  std::shared_ptr<std::promise<T>> promise_ = std::make_shared<std::promise<T>>();
  std::future<T> future_ = promise_->get_future();
};

}  // namespace db::testing
