// The window rules of a TFTP read transfer (see tftp_window_core.h). Kept line for line beside
// src/tftp/window.ts: test/tftp/window-core.test.ts feeds both the same ACKs and expects the same.
#include "tftp_window_core.h"

void tftp_window_init(tftp_window *w, uint64_t size, uint32_t blksize, uint32_t windowsize) {
  w->size = size;
  w->blksize = blksize;
  w->windowsize = windowsize;
  w->last_block = size / blksize + 1;
  w->acked = 0;
  w->sent_up_to = 0;
  w->highest_sent = 0;
  w->retransmits = 0;
}

int tftp_window_adopt(tftp_window *w, uint64_t acked, uint64_t sent_up_to, uint64_t highest_sent, uint64_t retransmits) {
  if (acked > sent_up_to || sent_up_to > highest_sent || highest_sent > w->last_block) return -1;
  w->acked = acked;
  w->sent_up_to = sent_up_to;
  w->highest_sent = highest_sent;
  w->retransmits = retransmits;
  return 0;
}

tftp_ack_outcome tftp_window_on_ack(tftp_window *w, uint16_t wire_block) {
  uint64_t distance = ((uint64_t)wire_block + 65536 - (w->acked % 65536)) % 65536;
  if (distance == 0) return TFTP_ACK_DUPLICATE;
  if (w->acked + distance > w->sent_up_to) return TFTP_ACK_STRAY;
  w->acked += distance;
  return tftp_window_complete(w) ? TFTP_ACK_DONE : TFTP_ACK_PROGRESS;
}

int tftp_window_peek(const tftp_window *w, tftp_block_range *out) {
  if (tftp_window_complete(w)) return 0;
  out->first = w->acked + 1;
  out->last = w->acked + w->windowsize < w->last_block ? w->acked + w->windowsize : w->last_block;
  return 1;
}

void tftp_window_commit(tftp_window *w, tftp_block_range range) {
  if (range.first <= w->highest_sent) w->retransmits += (range.last < w->highest_sent ? range.last : w->highest_sent) - range.first + 1;
  w->sent_up_to = range.last;
  if (range.last > w->highest_sent) w->highest_sent = range.last;
}

int tftp_window_next(tftp_window *w, tftp_block_range *out) {
  if (!tftp_window_peek(w, out)) return 0;
  tftp_window_commit(w, *out);
  return 1;
}

void tftp_window_bytes_of(const tftp_window *w, uint64_t block, uint64_t *start, uint64_t *end) {
  *start = (block - 1) * w->blksize;
  *end = *start + w->blksize < w->size ? *start + w->blksize : w->size;
}
