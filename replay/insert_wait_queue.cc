#include "replay/insert_wait_queue.h"

#include <cassert>

namespace shoal {

InsertWaitQueue::~InsertWaitQueue() { assert(empty()); }

void InsertWaitQueue::Park(InsertWaiter* waiter, bool front) {
  assert(!waiter->parked_ && !waiter->granted_);
  waiter->parked_ = true;
  if (head_ == nullptr) {
    waiter->prev_ = waiter->next_ = nullptr;
    head_ = tail_ = waiter;
  } else if (front) {
    waiter->prev_ = nullptr;
    waiter->next_ = head_;
    head_->prev_ = waiter;
    head_ = waiter;
  } else {
    waiter->prev_ = tail_;
    waiter->next_ = nullptr;
    tail_->next_ = waiter;
    tail_ = waiter;
  }
  ++size_;
}

bool InsertWaitQueue::Remove(InsertWaiter* waiter) {
  if (!waiter->parked_) return false;
  if (waiter->prev_ != nullptr) {
    waiter->prev_->next_ = waiter->next_;
  } else {
    head_ = waiter->next_;
  }
  if (waiter->next_ != nullptr) {
    waiter->next_->prev_ = waiter->prev_;
  } else {
    tail_ = waiter->prev_;
  }
  waiter->prev_ = waiter->next_ = nullptr;
  waiter->parked_ = false;
  --size_;
  return true;
}

bool InsertWaitQueue::TakeGrant(InsertWaiter* waiter) {
  if (!waiter->granted_) return false;
  waiter->granted_ = false;
  --grants_;
  return true;
}

InsertWaiter* InsertWaitQueue::PopFront() {
  InsertWaiter* waiter = head_;
  Remove(waiter);
  return waiter;
}

void InsertWaitQueue::Grant(int64_t n, std::vector<InsertWaiter*>* woken) {
  for (; n > 0 && head_ != nullptr; --n) {
    InsertWaiter* waiter = PopFront();
    waiter->granted_ = true;
    ++grants_;
    woken->push_back(waiter);
  }
}

void InsertWaitQueue::TakeAll(std::vector<InsertWaiter*>* woken) {
  while (head_ != nullptr) woken->push_back(PopFront());
}

}  // namespace shoal
