// A packet socket (AF_PACKET) on one interface that hands up every IPv4 UDP datagram to one port
// arriving there, whatever its IP destination, with the Ethernet source it came from. Why: the
// other-DHCP-server probe must also hear a server that ignores the broadcast flag and answers by
// unicast to the address it offers. That frame comes to our MAC, but its IP destination is an
// address we do not have, so the kernel drops it before any UDP socket sees it. DHCP clients
// (dhclient, udhcpc) listen the same way. A classic BPF filter in the kernel keeps everything
// else out; port 0 attaches a filter that accepts nothing, so the socket stays silent between
// probes (it is opened once, before privileges are dropped). Reading the IP and UDP headers is
// left to JavaScript (src/net/ipv4-udp.ts, pure and property-tested).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "packet_listener.h"
#include "polled_handle.h"
#include "napi_throw.h"

// Larger than any frame on a link with jumbo frames: nothing the filter accepts is cut.
#define PACKET_BUFFER_SIZE 65536
// Frames handled per readiness callback before yielding back to the event loop.
#define PACKET_BATCH 64

typedef struct {
  polled_handle h;  // first: the external, the poll and free() all use this one pointer
  unsigned char buffer[PACKET_BUFFER_SIZE];
} packet_listener;
_Static_assert(offsetof(packet_listener, h) == 0, "polled_handle must come first");

static void listener_on_readable(uv_poll_t *handle, int status, int events);

// packetStart(handle, callback): callback({data: IPv4 packet, sourceMac}); packetClose(handle)
static const polled_handle_kind packet_listener_kind = {
    .not_a_handle = "expected a packet listener handle",
    .start_usage = "packetStart(handle, callback)",
    .start_syscall = "packetStart",
    .resource_name = "PacketListener",
    .on_readable = listener_on_readable,
    .close_usage = "packetClose(handle)",
};

// The arguments of a JS call (exactly argc, or a TypeError with `usage`) whose first is this socket's handle.
static packet_listener *get_listener(napi_env env, napi_callback_info info, size_t argc, napi_value *argv, const char *usage) {
  return (packet_listener *)polled_handle_from_args(env, info, argc, argv, usage, packet_listener_kind.not_a_handle);
}

// The filter runs on the IP header (a SOCK_DGRAM packet socket has no link header in front).
// port 0: accept nothing.
static int attach_filter(int fd, uint16_t port) {
  struct sock_filter accept_port[] = {
      /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),  // IP protocol
      /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 6),
      /* 2 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),  // flags, fragment offset
      /* 3 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0),  // a later fragment has no UDP header
      /* 4 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),  // X = IP header length
      /* 5 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),  // UDP destination port
      /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),
      /* 7 */ BPF_STMT(BPF_RET | BPF_K, PACKET_BUFFER_SIZE - 1),
      /* 8 */ BPF_STMT(BPF_RET | BPF_K, 0),
  };
  struct sock_filter accept_nothing[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
  struct sock_fprog program;
  if (port) {
    program.len = sizeof accept_port / sizeof accept_port[0];
    program.filter = accept_port;
  } else {
    program.len = 1;
    program.filter = accept_nothing;
  }
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
}

static int get_name(napi_env env, napi_value value, char *out, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok || len == 0 || len + 1 > size) return -1;
  return napi_get_value_string_utf8(env, value, out, size, &len) == napi_ok ? 0 : -1;
}

// packetOpen(interfaceName) -> handle, accepting nothing until packetListen
static napi_value js_packet_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char ifname[IF_NAMESIZE];
  if (argc != 1 || get_name(env, argv[0], ifname, sizeof ifname) != 0) return throw_type(env, "packetOpen(interfaceName)");
  unsigned int ifindex = if_nametoindex(ifname);
  if (ifindex == 0) return throw_errno(env, "if_nametoindex", ENODEV);

  // Protocol 0 receives nothing: the filter is in place before bind() lets frames in. Bound to
  // ETH_P_IP (not ETH_P_ALL), it sees frames received only, never those this host sends.
  int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket AF_PACKET", errno);
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_IP);
  sll.sll_ifindex = (int)ifindex;
  const char *failed = NULL;
  if (attach_filter(fd, 0) != 0) failed = "setsockopt SO_ATTACH_FILTER";
  else if (bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0) failed = "bind AF_PACKET";
  if (failed) {
    int err = errno;
    close(fd);
    return throw_errno(env, failed, err);
  }
  napi_value handle;
  if (!polled_handle_create(env, fd, sizeof(packet_listener), NULL, &handle)) return NULL;
  return handle;
}

// packetListen(handle, port): hand up UDP datagrams to `port`; 0 = nothing
static napi_value js_packet_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  packet_listener *l = get_listener(env, info, 2, argv, "packetListen(handle, port)");
  if (!l) return NULL;
  uint32_t port = 0;
  if (napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535) return throw_type(env, "port must be 0-65535");
  if (l->h.closed) return throw_errno(env, "packetListen", EBADF);
  if (attach_filter(l->h.fd, (uint16_t)port) != 0) return throw_errno(env, "setsockopt SO_ATTACH_FILTER", errno);
  return NULL;
}

static void listener_on_readable(uv_poll_t *handle, int status, int events) {
  packet_listener *l = (packet_listener *)handle->data;
  if (l->h.closed || status < 0 || !(events & UV_READABLE)) return;
  napi_env env = l->h.env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  for (int i = 0; i < PACKET_BATCH && !l->h.closed; i++) {
    struct sockaddr_ll from;
    socklen_t fromlen = sizeof from;
    memset(&from, 0, sizeof from);
    ssize_t n = recvfrom(l->h.fd, l->buffer, sizeof l->buffer, MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
    if (n < 0) break;  // EAGAIN: drained; anything else: the next readiness tries again
    if ((size_t)n > sizeof l->buffer) continue;
    char mac[18] = "";
    if (from.sll_halen == 6) {
      snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", from.sll_addr[0], from.sll_addr[1], from.sll_addr[2], from.sll_addr[3],
               from.sll_addr[4], from.sll_addr[5]);
    }
    napi_handle_scope inner;
    if (napi_open_handle_scope(env, &inner) != napi_ok) break;
    napi_value frame, data, source;
    napi_create_object(env, &frame);
    napi_create_buffer_copy(env, (size_t)n, l->buffer, NULL, &data);
    napi_set_named_property(env, frame, "data", data);
    napi_create_string_utf8(env, mac, NAPI_AUTO_LENGTH, &source);
    napi_set_named_property(env, frame, "sourceMac", source);
    polled_handle_call_js(&l->h, 1, &frame);
    napi_close_handle_scope(env, inner);
  }
  napi_close_handle_scope(env, scope);
}

void packet_listener_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"packetOpen", NULL, js_packet_open, NULL, NULL, NULL, napi_default, NULL},
      {"packetListen", NULL, js_packet_listen, NULL, NULL, NULL, napi_default, NULL},
      {"packetStart", NULL, polled_handle_js_start, NULL, NULL, NULL, napi_default, (void *)&packet_listener_kind},
      {"packetClose", NULL, polled_handle_js_close, NULL, NULL, NULL, napi_default, (void *)&packet_listener_kind},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
