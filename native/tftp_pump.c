// The socket of one TFTP read transfer, with the steady state of the transfer in C: when armed
// with the bytes in memory, each in-order ACK from the client is answered with the next window
// right here in the libuv poll callback, without a trip through JavaScript. Why: in lockstep every
// block waits for one ACK, and Node's dgram path (a JS callback per datagram, an rinfo object, a
// send request object per datagram) cost more per block than the kernel's own work did.
// Everything else (datagrams from strangers, non-ACKs, the end of the file, the end of the bytes
// it was given) is handed to JavaScript, which stays in charge of the transfer: it arms the pump
// again after it has sent a window itself, and reads the pump's counters back before acting.
// Which blocks come next is decided by native/tftp_window_core.c (the rules of src/tftp/window.ts);
// this file is its N-API glue and the socket work: receive, send, hand over to JavaScript.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#include "polled_handle.h"
#include "tftp_pump.h"
#include "tftp_window_core.h"
#include "napi_throw.h"

#define PUMP_RECV_SIZE 65536
#define PUMP_RECV_BATCH 64
// Datagrams per sendmmsg call when a window holds several blocks.
#define PUMP_SEND_BATCH 64

typedef struct {
  polled_handle h;  // first: the external, the poll and free() all use this one pointer
  struct sockaddr_in peer;
  // The transfer's shape (start) and, while armed, the window state the fast path moves.
  tftp_window window;
  // Fast path (arm/disarm): the bytes it may send.
  int armed;
  napi_ref data_ref;
  const unsigned char *data;
  uint64_t data_base;
  uint64_t data_len;
  uint64_t last_send_ms;  // uv_now() of the last window sent: the loop's clock, no clock read per block
} tftp_pump;
_Static_assert(offsetof(tftp_pump, h) == 0, "polled_handle must come first");

// One receive buffer per thread, shared by every transfer on its event loop: a datagram is read,
// handled or copied into a JS Buffer before the next is read, and 500 transfers in a storm must
// not each hold (and zero) 64 KiB of their own.
static _Thread_local unsigned char recv_buffer[PUMP_RECV_SIZE];

static void pump_drop_data(tftp_pump *p) {
  p->armed = 0;
  p->data = NULL;
  p->data_len = 0;
  if (p->data_ref) {
    napi_delete_reference(p->h.env, p->data_ref);
    p->data_ref = NULL;
  }
}

// Released with the JS callback, once the poll handle is closed: the armed bytes.
static void pump_release_data(polled_handle *h) {
  pump_drop_data((tftp_pump *)h);
}

// Disarmed at once, not when libuv has closed the poll: disarm() after close says it was not armed.
static void pump_close(tftp_pump *p) {
  p->armed = 0;
  polled_handle_close(&p->h);
}

// The arguments of a JS call (exactly argc, or a TypeError with `usage`) whose first is this socket's handle.
static tftp_pump *pump_get(napi_env env, napi_callback_info info, size_t argc, napi_value *argv, const char *usage) {
  return (tftp_pump *)polled_handle_from_args(env, info, argc, argv, usage, "expected a tftp pump handle");
}

static int pump_get_string(napi_env env, napi_value value, char *out, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok || len + 1 > size) return -1;
  if (napi_get_value_string_utf8(env, value, out, size, &len) != napi_ok) return -1;
  return 0;
}

static int pump_get_u64(napi_env env, napi_value value, uint64_t *out) {
  double d = 0;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0) || d > 9007199254740991.0) return -1;
  *out = (uint64_t)d;
  return 0;
}

// Sends blocks first..last (absolute) to the peer from p->data; the caller checked they lie in it.
// A datagram the kernel will not take now (full buffer) is a lost packet: the retransmit timer covers it.
static void pump_send_blocks(tftp_pump *p, uint64_t first, uint64_t last) {
  unsigned char headers[PUMP_SEND_BATCH][4];
  struct iovec iov[PUMP_SEND_BATCH][2];
  struct mmsghdr msgs[PUMP_SEND_BATCH];
  uint64_t block = first;
  while (block <= last && !p->h.closed) {
    unsigned count = 0;
    for (; block <= last && count < PUMP_SEND_BATCH; block++, count++) {
      uint64_t start, end;
      tftp_window_bytes_of(&p->window, block, &start, &end);
      uint16_t wire = (uint16_t)(block & 0xffff);
      headers[count][0] = 0;
      headers[count][1] = 3;  // DATA
      headers[count][2] = (unsigned char)(wire >> 8);
      headers[count][3] = (unsigned char)(wire & 0xff);
      iov[count][0].iov_base = headers[count];
      iov[count][0].iov_len = 4;
      iov[count][1].iov_base = (void *)(p->data + (start - p->data_base));
      iov[count][1].iov_len = (size_t)(end - start);
      memset(&msgs[count], 0, sizeof msgs[count]);
      msgs[count].msg_hdr.msg_name = &p->peer;
      msgs[count].msg_hdr.msg_namelen = sizeof p->peer;
      msgs[count].msg_hdr.msg_iov = iov[count];
      msgs[count].msg_hdr.msg_iovlen = 2;
    }
    if (count == 1) {
      (void)sendmsg(p->h.fd, &msgs[0].msg_hdr, 0);
    } else {
      (void)sendmmsg(p->h.fd, msgs, count, 0);
    }
  }
  p->last_send_ms = uv_now(p->h.poll.loop);
}

// Whether the bytes of blocks first..last are in the armed buffer.
static int pump_holds(const tftp_pump *p, uint64_t first, uint64_t last) {
  uint64_t start, end, ignored;
  tftp_window_bytes_of(&p->window, first, &start, &ignored);
  tftp_window_bytes_of(&p->window, last, &ignored, &end);
  return p->data != NULL && start >= p->data_base && end <= p->data_base + p->data_len;
}

// An ACK from the peer while armed. Returns 1 when JavaScript must take over (file done, or the
// next window is not in the buffer), 0 when handled here.
static int pump_on_ack(tftp_pump *p, uint16_t wire) {
  tftp_ack_outcome outcome = tftp_window_on_ack(&p->window, wire);
  if (outcome == TFTP_ACK_DONE) return 1;
  if (outcome != TFTP_ACK_PROGRESS) return 0;  // duplicate or stray: ignored, never answered
  tftp_block_range next;
  if (!tftp_window_peek(&p->window, &next) || !pump_holds(p, next.first, next.last)) return 1;
  tftp_window_commit(&p->window, next);
  pump_send_blocks(p, next.first, next.last);
  return 0;
}

// Calls the JS callback: (data, address, port) for a datagram, (null, '', 0) when the fast path stopped.
static void pump_call_js(tftp_pump *p, const unsigned char *bytes, size_t length, const struct sockaddr_in *from) {
  napi_env env = p->h.env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[3];
  char from_text[INET_ADDRSTRLEN] = "";
  if (bytes) {
    napi_create_buffer_copy(env, length, bytes, NULL, &argv[0]);
    inet_ntop(AF_INET, &from->sin_addr, from_text, sizeof from_text);
    napi_create_uint32(env, ntohs(from->sin_port), &argv[2]);
  } else {
    napi_get_null(env, &argv[0]);
    napi_create_uint32(env, 0, &argv[2]);
  }
  napi_create_string_utf8(env, from_text, NAPI_AUTO_LENGTH, &argv[1]);
  polled_handle_call_js(&p->h, 3, argv);
  napi_close_handle_scope(env, scope);
}

static void pump_on_readable(uv_poll_t *handle, int status, int events) {
  tftp_pump *p = (tftp_pump *)handle->data;
  if (p->h.closed || status < 0 || !(events & UV_READABLE)) return;
  for (int i = 0; i < PUMP_RECV_BATCH && !p->h.closed; i++) {
    struct sockaddr_in from;
    socklen_t from_len = sizeof from;
    memset(&from, 0, sizeof from);
    ssize_t n = recvfrom(p->h.fd, recv_buffer, sizeof recv_buffer, MSG_TRUNC, (struct sockaddr *)&from, &from_len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      continue;  // e.g. ECONNREFUSED from an ICMP error: nothing to read for it
    }
    if ((size_t)n > sizeof recv_buffer || from_len < sizeof from || from.sin_family != AF_INET) continue;
    int from_peer = from.sin_addr.s_addr == p->peer.sin_addr.s_addr && from.sin_port == p->peer.sin_port;
    if (p->armed && from_peer && n >= 4 && recv_buffer[0] == 0 && recv_buffer[1] == 4) {
      uint16_t wire = (uint16_t)((recv_buffer[2] << 8) | recv_buffer[3]);
      uint64_t sent_before = p->window.sent_up_to;
      if (pump_on_ack(p, wire)) {
        pump_drop_data(p);
        pump_call_js(p, NULL, 0, NULL);
      }
      // A window just went out: the client's next ACK cannot be here yet, so no recvfrom that
      // would only say EAGAIN (one system call per block saved). The poll is level-triggered:
      // anything else already queued wakes this callback again.
      if (p->window.sent_up_to != sent_before) break;
      continue;
    }
    pump_call_js(p, recv_buffer, (size_t)n, &from);
  }
}

// open(address) -> handle, bound to address:0
static napi_value js_pump_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char address[INET_ADDRSTRLEN];
  if (argc != 1 || pump_get_string(env, argv[0], address, sizeof address) != 0) return throw_type(env, "open(address)");
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  if (inet_pton(AF_INET, address, &sin.sin_addr) != 1) return throw_type(env, "address must be a dotted quad");
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err);
  }
  napi_value handle;
  tftp_pump *p = (tftp_pump *)polled_handle_create(env, fd, sizeof(tftp_pump), pump_release_data, &handle);
  if (!p) return NULL;
  tftp_window_init(&p->window, 0, 512, 1);
  return handle;
}

// localPort(handle) -> number
static napi_value js_pump_local_port(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tftp_pump *p = pump_get(env, info, 1, argv, "localPort(handle)");
  if (!p) return NULL;
  return polled_handle_local_port(env, &p->h);
}

// start(handle, peerAddress, peerPort, size, blksize, windowsize, callback)
static napi_value js_pump_start(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  tftp_pump *p = pump_get(env, info, 7, argv, "start(handle, peerAddress, peerPort, size, blksize, windowsize, callback)");
  if (!p) return NULL;
  char address[INET_ADDRSTRLEN];
  uint32_t port = 0, blksize = 0, windowsize = 0;
  uint64_t size = 0;
  napi_valuetype type;
  napi_typeof(env, argv[6], &type);
  if (pump_get_string(env, argv[1], address, sizeof address) != 0) return throw_type(env, "peerAddress must be a dotted quad");
  if (napi_get_value_uint32(env, argv[2], &port) != napi_ok || port == 0 || port > 65535) return throw_type(env, "peerPort must be 1-65535");
  if (pump_get_u64(env, argv[3], &size) != 0) return throw_type(env, "size must be a whole number");
  if (napi_get_value_uint32(env, argv[4], &blksize) != napi_ok || blksize < 8 || blksize > 65464) return throw_type(env, "blksize must be 8-65464");
  if (napi_get_value_uint32(env, argv[5], &windowsize) != napi_ok || windowsize < 1 || windowsize > 65535) return throw_type(env, "windowsize must be 1-65535");
  if (type != napi_function) return throw_type(env, "callback must be a function");
  if (polled_handle_check_startable(env, &p->h, "start") != 0) return NULL;
  memset(&p->peer, 0, sizeof p->peer);
  p->peer.sin_family = AF_INET;
  p->peer.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, address, &p->peer.sin_addr) != 1) return throw_type(env, "peerAddress must be a dotted quad");
  tftp_window_init(&p->window, size, blksize, windowsize);

  polled_handle_start(env, &p->h, "TftpPump", argv[6], pump_on_readable);
  return NULL;
}

// send(handle, buffer, port, address): one datagram (OACK, ERROR); throws on failure.
static napi_value js_pump_send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  tftp_pump *p = pump_get(env, info, 4, argv, "send(handle, buffer, port, address)");
  if (!p) return NULL;
  void *data = NULL;
  size_t length = 0;
  bool is_buffer = false;
  napi_is_buffer(env, argv[1], &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) return throw_type(env, "data must be a Buffer");
  uint32_t port = 0;
  char address[INET_ADDRSTRLEN];
  if (napi_get_value_uint32(env, argv[2], &port) != napi_ok || port == 0 || port > 65535) return throw_type(env, "port must be 1-65535");
  if (pump_get_string(env, argv[3], address, sizeof address) != 0) return throw_type(env, "address must be a dotted quad");
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, address, &to.sin_addr) != 1) return throw_type(env, "address must be a dotted quad");
  if (p->h.closed) return throw_errno(env, "sendto", EBADF);
  ssize_t sent = sendto(p->h.fd, data, length, 0, (struct sockaddr *)&to, sizeof to);
  if (sent < 0) return throw_errno(env, "sendto", errno);
  return NULL;
}

// Takes data/base from argv and checks blocks first..last lie in it; 0 on success, else threw.
static int pump_take_data(napi_env env, tftp_pump *p, napi_value buffer, napi_value base_value, void **data, size_t *length, uint64_t *base) {
  bool is_buffer = false;
  napi_is_buffer(env, buffer, &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, buffer, data, length) != napi_ok) {
    throw_type(env, "data must be a Buffer");
    return -1;
  }
  if (pump_get_u64(env, base_value, base) != 0) {
    throw_type(env, "base must be a whole number");
    return -1;
  }
  (void)p;
  return 0;
}

// sendBlocks(handle, data, base, first, last): data holds the file's bytes from offset base.
static napi_value js_pump_send_blocks(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  tftp_pump *p = pump_get(env, info, 5, argv, "sendBlocks(handle, data, base, first, last)");
  if (!p) return NULL;
  void *data = NULL;
  size_t length = 0;
  uint64_t base = 0, first = 0, last = 0;
  if (pump_take_data(env, p, argv[1], argv[2], &data, &length, &base) != 0) return NULL;
  if (pump_get_u64(env, argv[3], &first) != 0 || pump_get_u64(env, argv[4], &last) != 0 || first < 1 || last < first || last > p->window.last_block)
    return throw_type(env, "blocks must be 1 <= first <= last <= the last block");
  if (p->h.closed || !p->h.polling) return throw_errno(env, "sendBlocks", EBADF);
  if (p->armed) return throw_errno(env, "sendBlocks", EBUSY);
  p->data = data;
  p->data_len = length;
  p->data_base = base;
  if (!pump_holds(p, first, last)) {
    p->data = NULL;
    p->data_len = 0;
    return throw_type(env, "the blocks are not all in data");
  }
  pump_send_blocks(p, first, last);
  p->data = NULL;
  p->data_len = 0;
  return NULL;
}

// arm(handle, data, base, acked, sentUpTo, highestSent, retransmits): answer in-order ACKs here
// from data (the file's bytes from offset base) until the file ends or the bytes run out.
static napi_value js_pump_arm(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  tftp_pump *p = pump_get(env, info, 7, argv, "arm(handle, data, base, acked, sentUpTo, highestSent, retransmits)");
  if (!p) return NULL;
  void *data = NULL;
  size_t length = 0;
  uint64_t base = 0, acked = 0, sent_up_to = 0, highest = 0, retransmits = 0;
  if (pump_take_data(env, p, argv[1], argv[2], &data, &length, &base) != 0) return NULL;
  if (pump_get_u64(env, argv[3], &acked) != 0 || pump_get_u64(env, argv[4], &sent_up_to) != 0 || pump_get_u64(env, argv[5], &highest) != 0 ||
      pump_get_u64(env, argv[6], &retransmits) != 0)
    return throw_type(env, "window state must be whole numbers");
  tftp_window taken = p->window;
  if (tftp_window_adopt(&taken, acked, sent_up_to, highest, retransmits) != 0)
    return throw_type(env, "window state must be acked <= sentUpTo <= highestSent <= the last block");
  if (p->h.closed || !p->h.polling) return throw_errno(env, "arm", EBADF);
  pump_drop_data(p);
  if (napi_create_reference(env, argv[1], 1, &p->data_ref) != napi_ok) return throw_errno(env, "napi_create_reference", ENOMEM);
  p->data = data;
  p->data_len = length;
  p->data_base = base;
  p->window = taken;
  // last_send_ms stays: arming is no send, and the retransmit timer counts from the last send.
  p->armed = 1;
  return NULL;
}

// disarm(handle) -> [acked, sentUpTo, highestSent, retransmits, msSinceLastSend, wasArmed]: the
// window state as the fast path left it; JavaScript takes over until it arms again.
static napi_value js_pump_disarm(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tftp_pump *p = pump_get(env, info, 1, argv, "disarm(handle)");
  if (!p) return NULL;
  int was_armed = p->armed;
  pump_drop_data(p);
  const tftp_window *w = &p->window;
  double values[6] = {(double)w->acked,       (double)w->sent_up_to, (double)w->highest_sent, (double)w->retransmits,
                      (double)(p->h.polling ? uv_now(p->h.poll.loop) - p->last_send_ms : 0), was_armed ? 1.0 : 0.0};
  napi_value out;
  napi_create_array_with_length(env, 6, &out);
  for (uint32_t i = 0; i < 6; i++) {
    napi_value v;
    napi_create_double(env, values[i], &v);
    napi_set_element(env, out, i, v);
  }
  return out;
}

// acked(handle) -> the highest block acknowledged in order as the fast path saw it (0 when never armed).
static napi_value js_pump_acked(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tftp_pump *p = pump_get(env, info, 1, argv, "acked(handle)");
  if (!p) return NULL;
  napi_value out;
  napi_create_double(env, (double)p->window.acked, &out);
  return out;
}

// close(handle)
static napi_value js_pump_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tftp_pump *p = pump_get(env, info, 1, argv, "close(handle)");
  if (!p) return NULL;
  pump_close(p);
  return NULL;
}

void tftp_pump_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"pumpOpen", NULL, js_pump_open, NULL, NULL, NULL, napi_default, NULL},
      {"pumpLocalPort", NULL, js_pump_local_port, NULL, NULL, NULL, napi_default, NULL},
      {"pumpStart", NULL, js_pump_start, NULL, NULL, NULL, napi_default, NULL},
      {"pumpSend", NULL, js_pump_send, NULL, NULL, NULL, napi_default, NULL},
      {"pumpSendBlocks", NULL, js_pump_send_blocks, NULL, NULL, NULL, napi_default, NULL},
      {"pumpArm", NULL, js_pump_arm, NULL, NULL, NULL, napi_default, NULL},
      {"pumpDisarm", NULL, js_pump_disarm, NULL, NULL, NULL, napi_default, NULL},
      {"pumpAcked", NULL, js_pump_acked, NULL, NULL, NULL, napi_default, NULL},
      {"pumpClose", NULL, js_pump_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
