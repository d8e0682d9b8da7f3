// An IPv4 UDP socket tied to one network interface (SO_BINDTODEVICE) that reports, for each
// datagram, the interface it arrived on and the local address it was sent to (IP_PKTINFO).
// Node's dgram offers neither, and a DHCP server needs both: it must answer only on its own
// link and must know where a broadcast came in. Kept deliberately small: open, receive
// (driven by a libuv poll on the socket's fd), send, close.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include "tftp_pump.h"
#include "napi_throw.h"

// Largest IPv4 UDP payload: no datagram can be truncated into this buffer.
#define RECV_BUFFER_SIZE 65536
// Datagrams handled per readiness callback before yielding back to the event loop.
#define RECV_BATCH 64

typedef struct {
  polled_handle h;  // first: the external, the poll and free() all use this one pointer
  unsigned char buffer[RECV_BUFFER_SIZE];
} udp_device;
_Static_assert(offsetof(udp_device, h) == 0, "polled_handle must come first");

static void on_readable(uv_poll_t *handle, int status, int events);

// startReceiving(handle, callback): callback({data, address, port, ifindex, localAddress, destination}); close(handle)
static const polled_handle_kind udp_device_kind = {
    .not_a_handle = "expected a udp device handle",
    .start_usage = "startReceiving(handle, callback)",
    .start_syscall = "startReceiving",
    .resource_name = "UdpDeviceSocket",
    .on_readable = on_readable,
    .close_usage = "close(handle)",
};

// The arguments of a JS call (exactly argc, or a TypeError with `usage`) whose first is this socket's handle.
static udp_device *get_device(napi_env env, napi_callback_info info, size_t argc, napi_value *argv, const char *usage) {
  return (udp_device *)polled_handle_from_args(env, info, argc, argv, usage, udp_device_kind.not_a_handle);
}

static int get_string(napi_env env, napi_value value, char *out, size_t size) {
  size_t len = 0;
  // Ask the length first: a string that does not fit is refused, never silently cut.
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok || len + 1 > size) return -1;
  if (napi_get_value_string_utf8(env, value, out, size, &len) != napi_ok) return -1;
  return 0;
}

// open(port, address, interfaceName, reuseAddr, broadcast) -> handle
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5) return throw_type(env, "open(port, address, interfaceName, reuseAddr, broadcast)");

  uint32_t port = 0;
  char address[INET_ADDRSTRLEN];
  char ifname[IF_NAMESIZE];
  bool reuse = false, broadcast = false;
  if (napi_get_value_uint32(env, argv[0], &port) != napi_ok || port > 65535) return throw_type(env, "port must be 0-65535");
  if (get_string(env, argv[1], address, sizeof address) != 0) return throw_type(env, "address must be a dotted quad");
  if (get_string(env, argv[2], ifname, sizeof ifname) != 0) return throw_type(env, "interface name too long");
  if (napi_get_value_bool(env, argv[3], &reuse) != napi_ok) return throw_type(env, "reuseAddr must be a boolean");
  if (napi_get_value_bool(env, argv[4], &broadcast) != napi_ok) return throw_type(env, "broadcast must be a boolean");

  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, address, &sin.sin_addr) != 1) return throw_type(env, "address must be a dotted quad");

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  const char *failed = NULL;
  if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0) failed = "setsockopt IP_PKTINFO";
  else if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) failed = "setsockopt SO_REUSEADDR";
  else if (broadcast && setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0) failed = "setsockopt SO_BROADCAST";
  // Before bind, so the port is claimed on this interface only.
  else if (ifname[0] && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) != 0) failed = "setsockopt SO_BINDTODEVICE";
  else if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0) failed = "bind";
  if (failed) {
    int err = errno;
    close(fd);
    return throw_errno(env, failed, err);
  }
  // A burst of DHCP requests (a rack powering on) must wait in the kernel while a lease commit
  // holds the event loop, not be dropped: ask for 4 MiB. SO_RCVBUFFORCE passes net.core.rmem_max
  // when we hold CAP_NET_ADMIN; otherwise SO_RCVBUF gets what rmem_max allows. Best effort.
  int rcvbuf = 4 * 1024 * 1024;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);

  napi_value handle;
  if (!polled_handle_create(env, fd, sizeof(udp_device), NULL, &handle)) return NULL;
  return handle;
}

// localPort(handle) -> number
static napi_value js_local_port(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  udp_device *dev = get_device(env, info, 1, argv, "localPort(handle)");
  if (!dev) return NULL;
  return polled_handle_local_port(env, &dev->h);
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static void set_uint(napi_env env, napi_value obj, const char *key, uint32_t value) {
  napi_value v;
  napi_create_uint32(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

// Reads one datagram into dev->buffer. Returns its length, -1 when none is waiting, -2 on error (skipped).
static ssize_t receive_one(udp_device *dev, struct sockaddr_in *from, struct in_pktinfo *pktinfo, int *has_pktinfo) {
  union {
    struct cmsghdr align;
    unsigned char bytes[CMSG_SPACE(sizeof(struct in_pktinfo))];
  } control;
  struct iovec iov = {.iov_base = dev->buffer, .iov_len = sizeof dev->buffer};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  memset(&control, 0, sizeof control);
  msg.msg_name = from;
  msg.msg_namelen = sizeof *from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.bytes;
  msg.msg_controllen = sizeof control.bytes;

  ssize_t n = recvmsg(dev->h.fd, &msg, 0);
  if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? -1 : -2;
  if (msg.msg_flags & MSG_TRUNC) return -2;
  if (msg.msg_namelen < sizeof *from || from->sin_family != AF_INET) return -2;
  *has_pktinfo = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof *pktinfo)) {
      memcpy(pktinfo, CMSG_DATA(c), sizeof *pktinfo);
      *has_pktinfo = 1;
    }
  }
  return n;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  udp_device *dev = (udp_device *)handle->data;
  if (dev->h.closed || status < 0 || !(events & UV_READABLE)) return;
  napi_env env = dev->h.env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  for (int i = 0; i < RECV_BATCH && !dev->h.closed; i++) {
    struct sockaddr_in from;
    struct in_pktinfo pktinfo;
    int has_pktinfo = 0;
    memset(&from, 0, sizeof from);
    memset(&pktinfo, 0, sizeof pktinfo);
    ssize_t n = receive_one(dev, &from, &pktinfo, &has_pktinfo);
    if (n == -1) break;
    if (n == -2) continue;

    char from_text[INET_ADDRSTRLEN] = "0.0.0.0", local_text[INET_ADDRSTRLEN] = "0.0.0.0", dest_text[INET_ADDRSTRLEN] = "0.0.0.0";
    inet_ntop(AF_INET, &from.sin_addr, from_text, sizeof from_text);
    if (has_pktinfo) {
      inet_ntop(AF_INET, &pktinfo.ipi_spec_dst, local_text, sizeof local_text);
      inet_ntop(AF_INET, &pktinfo.ipi_addr, dest_text, sizeof dest_text);
    }

    napi_handle_scope inner;
    if (napi_open_handle_scope(env, &inner) != napi_ok) break;
    napi_value datagram, data;
    napi_create_object(env, &datagram);
    napi_create_buffer_copy(env, (size_t)n, dev->buffer, NULL, &data);
    napi_set_named_property(env, datagram, "data", data);
    set_string(env, datagram, "address", from_text);
    set_uint(env, datagram, "port", ntohs(from.sin_port));
    set_uint(env, datagram, "ifindex", has_pktinfo ? (uint32_t)pktinfo.ipi_ifindex : 0);
    set_string(env, datagram, "localAddress", local_text);
    set_string(env, datagram, "destination", dest_text);

    polled_handle_call_js(&dev->h, 1, &datagram);
    napi_close_handle_scope(env, inner);
  }
  napi_close_handle_scope(env, scope);
}

// send(handle, buffer, port, address)
static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  udp_device *dev = get_device(env, info, 4, argv, "send(handle, buffer, port, address)");
  if (!dev) return NULL;
  void *data = NULL;
  size_t length = 0;
  bool is_buffer = false;
  napi_is_buffer(env, argv[1], &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) return throw_type(env, "data must be a Buffer");
  if (length > RECV_BUFFER_SIZE - 28) return throw_errno(env, "sendto", EMSGSIZE);
  uint32_t port = 0;
  char address[INET_ADDRSTRLEN];
  if (napi_get_value_uint32(env, argv[2], &port) != napi_ok || port == 0 || port > 65535) return throw_type(env, "port must be 1-65535");
  if (get_string(env, argv[3], address, sizeof address) != 0) return throw_type(env, "address must be a dotted quad");
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, address, &to.sin_addr) != 1) return throw_type(env, "address must be a dotted quad");
  if (dev->h.closed) return throw_errno(env, "sendto", EBADF);
  ssize_t sent = sendto(dev->h.fd, data, length, 0, (struct sockaddr *)&to, sizeof to);
  if (sent < 0) return throw_errno(env, "sendto", errno);
  if ((size_t)sent != length) return throw_errno(env, "sendto", EMSGSIZE);
  return NULL;
}

// interfaceIndex(name) -> number (0 when there is no such interface)
static napi_value js_interface_index(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[IF_NAMESIZE];
  if (argc != 1 || get_string(env, argv[0], name, sizeof name) != 0) name[0] = '\0';
  napi_value out;
  napi_create_uint32(env, name[0] ? if_nametoindex(name) : 0, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"localPort", NULL, js_local_port, NULL, NULL, NULL, napi_default, NULL},
      {"startReceiving", NULL, polled_handle_js_start, NULL, NULL, NULL, napi_default, (void *)&udp_device_kind},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, polled_handle_js_close, NULL, NULL, NULL, napi_default, (void *)&udp_device_kind},
      {"interfaceIndex", NULL, js_interface_index, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  tftp_pump_register(env, exports);
  packet_listener_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
