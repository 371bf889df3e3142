// scheduling.h — a worker's two scheduling decisions: which worker takes a new connection (the
// one holding the fewest) and in what order a turn serves its ready connections (oldest first).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace provisiond {

// The worker that takes a connection just accepted by worker `self`: the one with the fewest
// connections in `loads` (one entry per worker), `self` on a tie so that a balanced server
// hands nothing over. Join-the-shortest-queue: with one shared listening socket, whichever
// worker is in epoll_wait accepts a whole burst, and a worker with more connections than the
// other serves each of them later — that imbalance, not the crypto, made the tail.
size_t PickWorker(std::span<const int> loads, size_t self);

// The connections that became ready in one turn, served oldest first (lowest id: ids count up
// per worker as connections arrive), and fresh ones (no TLS byte read yet: ECDHE and a
// signature to answer their ClientHello) only after every connection already under way. An
// event loop that serves whatever epoll reports in its order is round-robin over the steps of
// every open handshake, so each enrollment's latency grows with every connection that arrived
// after it; oldest first finishes enrollments in the order they started.
class ReadyOrder {
 public:
  void Add(int fd, uint64_t id, bool fresh) {
    (fresh ? fresh_ : under_way_).emplace_back(id, fd);
  }
  bool empty() const { return under_way_.empty() && fresh_.empty(); }
  // Calls serve(fd, id) for every connection added since the last call, in the order above, and
  // forgets them. Connections added by serve itself wait for the next call.
  template <class Serve>
  void ServeAll(Serve&& serve) {
    Take();
    for (auto [id, fd] : taken_) serve(fd, id);
    taken_.clear();
  }

 private:
  void Take();  // taken_ = under_way_ then fresh_, each sorted by id

  std::vector<std::pair<uint64_t, int>> under_way_, fresh_, taken_;
};

}  // namespace provisiond
