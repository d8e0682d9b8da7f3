// Which blocks a TFTP read transfer sends next, given the ACKs it got: the same rules as
// src/tftp/window.ts, in C for the native fast path (native/tftp_pump.c). Pure: no N-API, no
// sockets, no clock, no allocation, so a test can drive it and compare it with window.ts
// (test/tftp/window-core.test.ts through native/tftp_window_probe.c).
// Block numbers are absolute (1, 2, … past 65535); the wire carries them modulo 65536.
#ifndef PXE_PILOT_TFTP_WINDOW_CORE_H
#define PXE_PILOT_TFTP_WINDOW_CORE_H
#include <stdint.h>

typedef struct {
  // Shape of the transfer.
  uint64_t size;
  uint64_t last_block;  // a file whose size is a multiple of blksize ends with an empty block
  uint32_t blksize;
  uint32_t windowsize;
  // Progress.
  uint64_t acked;         // highest block the client acknowledged in order
  uint64_t sent_up_to;    // highest block of the window in flight
  uint64_t highest_sent;  // highest block ever sent: sending one at or below it again is a retransmission
  uint64_t retransmits;
} tftp_window;

typedef struct {
  uint64_t first;
  uint64_t last;
} tftp_block_range;

// What an ACK did, as window.ts's AckOutcome.
typedef enum {
  TFTP_ACK_PROGRESS = 0,   // new blocks acknowledged; the next window is due
  TFTP_ACK_DONE = 1,       // the last block is acknowledged
  TFTP_ACK_DUPLICATE = 2,  // already acknowledged: ignored, never answered (no Sorcerer's Apprentice)
  TFTP_ACK_STRAY = 3,      // for a block not sent: ignored
} tftp_ack_outcome;

// A fresh window for a file of `size` bytes; the caller checked blksize >= 1 and windowsize >= 1.
void tftp_window_init(tftp_window *w, uint64_t size, uint32_t blksize, uint32_t windowsize);

// Takes over progress counted elsewhere (window.ts, before the fast path is armed).
// Returns -1 and changes nothing unless acked <= sent_up_to <= highest_sent <= last_block.
int tftp_window_adopt(tftp_window *w, uint64_t acked, uint64_t sent_up_to, uint64_t highest_sent, uint64_t retransmits);

// Takes an ACK as on the wire. One inside the window but before its end means the client lost the
// block after it: the next window restarts there (RFC 7440 section 4).
tftp_ack_outcome tftp_window_on_ack(tftp_window *w, uint16_t wire_block);

// The window to send now (after the last acknowledged block), without sending it; 0 when complete.
int tftp_window_peek(const tftp_window *w, tftp_block_range *out);

// Counts `range` (from tftp_window_peek) as sent: in flight, and retransmitted where sent before.
void tftp_window_commit(tftp_window *w, tftp_block_range range);

// peek then commit, as window.ts's nextWindow(); 0 when complete.
int tftp_window_next(tftp_window *w, tftp_block_range *out);

// Byte range [start, end) of an absolute block.
void tftp_window_bytes_of(const tftp_window *w, uint64_t block, uint64_t *start, uint64_t *end);

static inline int tftp_window_complete(const tftp_window *w) {
  return w->acked == w->last_block;
}
#endif
