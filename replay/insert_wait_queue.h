// InsertWaiter and InsertWaitQueue: inserts that a table's rate limiter
// holds back, parked in the table without a thread (like Reverb's table,
// which keeps its pending inserts and completes them when the limiter
// allows, instead of blocking a thread per writer).
//
// A caller that must not block (the gRPC insert stream's reactor) is an
// InsertWaiter. Table::InsertBatchOrPark parks it at the back of the
// table's queue when the limiter holds an item back. When a sample (or a
// Reset, a checkpoint restore, Cancel) makes room, the table takes as many
// waiters from the front as the limiter has room for inserts, marks each
// granted, and once it has released its mutex calls their OnInsertReady().
// A woken waiter comes back with InsertBatchOrPark, which consumes its grant
// (held back again, it parks at the front: it keeps its turn), or with
// Table::LeaveInsertQueue, which passes the grant on. Grants still out
// count against the room, so a sample that makes room for k inserts wakes
// k waiters, not all of them, and room a woken waiter leaves unused goes
// to the next one rather than being lost.
//
// Both classes are here because the queue is intrusive: a waiter carries
// its own links, so parking allocates nothing and every operation is O(1).
//
// Thread-safety: InsertWaitQueue has no lock of its own. It is a member of
// its table guarded by the table's mutex, and a waiter's links are touched
// only by the queue it is in, under that mutex. A waiter is in at most one
// queue at a time and must not be destroyed while parked.
#ifndef SHOAL_REPLAY_INSERT_WAIT_QUEUE_H_
#define SHOAL_REPLAY_INSERT_WAIT_QUEUE_H_

#include <cstdint>
#include <vector>

namespace shoal {

class InsertWaitQueue;

// An insert parked in a table's InsertWaitQueue.
class InsertWaiter {
 public:
  InsertWaiter() = default;
  virtual ~InsertWaiter() = default;

  InsertWaiter(const InsertWaiter&) = delete;
  InsertWaiter& operator=(const InsertWaiter&) = delete;

  // The parked insert may go on, or the table was cancelled: called once
  // per park, with no table lock held, on the thread whose call made room
  // (a sampler's, say). Must be cheap and must not block: typically it
  // schedules the continuation elsewhere.
  virtual void OnInsertReady() = 0;

 private:
  friend class InsertWaitQueue;
  // Touched only by the queue the waiter is in, under its table's mutex.
  InsertWaiter* prev_ = nullptr;
  InsertWaiter* next_ = nullptr;
  bool parked_ = false;
  bool granted_ = false;
};

// The FIFO of one table's parked waiters and the grants handed out.
class InsertWaitQueue {
 public:
  InsertWaitQueue() = default;
  // REQUIRES: empty().
  ~InsertWaitQueue();

  InsertWaitQueue(const InsertWaitQueue&) = delete;
  InsertWaitQueue& operator=(const InsertWaitQueue&) = delete;

  bool empty() const { return size_ == 0; }
  // Waiters parked now.
  int64_t size() const { return size_; }
  // Waiters woken with a grant that have not come back yet.
  int64_t grants() const { return grants_; }

  // Parks `waiter` at the back, or at the front when `front`. O(1).
  // REQUIRES: `waiter` is parked nowhere and holds no grant.
  void Park(InsertWaiter* waiter, bool front);

  // Takes `waiter` out of the queue: true when it was parked here. O(1).
  bool Remove(InsertWaiter* waiter);

  // Clears `waiter`'s grant: true when it held one. O(1).
  bool TakeGrant(InsertWaiter* waiter);

  // Takes up to `n` waiters from the front, each with a grant, appending
  // them to `woken`. O(n).
  void Grant(int64_t n, std::vector<InsertWaiter*>* woken);

  // Takes every waiter, without grants (the table was cancelled). O(size).
  void TakeAll(std::vector<InsertWaiter*>* woken);

 private:
  InsertWaiter* PopFront();

  InsertWaiter* head_ = nullptr;
  InsertWaiter* tail_ = nullptr;
  int64_t size_ = 0;
  int64_t grants_ = 0;
};

}  // namespace shoal

#endif  // SHOAL_REPLAY_INSERT_WAIT_QUEUE_H_
