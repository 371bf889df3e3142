// scheduling_test.cc — the worker choice (fewest connections, self on a tie) and the order a
// turn serves its ready connections (oldest first, fresh handshakes last).
#include "daemon/scheduling.h"

#include <doctest/doctest.h>

#include <utility>
#include <vector>

namespace provisiond {
namespace {

std::vector<uint64_t> Order(ReadyOrder& ready) {
  std::vector<uint64_t> ids;
  ready.ServeAll([&](int fd, uint64_t id) {
    CHECK(fd == static_cast<int>(id) + 100);  // the fd travels with its id
    ids.push_back(id);
  });
  return ids;
}

TEST_CASE("ReadyOrder: oldest connection first, fresh handshakes after every one under way") {
  ReadyOrder ready;
  // As epoll might report them: newest first, fresh ones mixed in.
  for (auto [id, fresh] : {std::pair{9, true}, {7, false}, {3, false}, {8, true}, {5, false},
                           {1, false}, {6, true}}) {
    ready.Add(id + 100, id, fresh);
  }
  CHECK(Order(ready) == std::vector<uint64_t>{1, 3, 5, 7, 6, 8, 9});
  CHECK(ready.empty());
  CHECK(Order(ready).empty());  // served once: nothing left for the next turn
}

TEST_CASE("ReadyOrder: a connection added while serving waits for the next turn") {
  ReadyOrder ready;
  ready.Add(102, 2, false);
  ready.Add(101, 1, false);
  std::vector<uint64_t> first;
  ready.ServeAll([&](int, uint64_t id) {
    first.push_back(id);
    if (id == 1) ready.Add(100, 0, false);  // older, but became ready after the turn began
  });
  CHECK(first == std::vector<uint64_t>{1, 2});
  CHECK(Order(ready) == std::vector<uint64_t>{0});
}

TEST_CASE("PickWorker: the fewest connections; the accepting worker keeps a tie") {
  CHECK(PickWorker(std::vector<int>{5, 3}, 0) == 1);
  CHECK(PickWorker(std::vector<int>{3, 3}, 0) == 0);
  CHECK(PickWorker(std::vector<int>{3, 3}, 1) == 1);
  CHECK(PickWorker(std::vector<int>{4, 2, 2, 9}, 3) == 1);
  CHECK(PickWorker(std::vector<int>{0}, 0) == 0);
}

}  // namespace
}  // namespace provisiond
