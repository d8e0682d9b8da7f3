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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "packet_listener.h"
#include "tftp_pump.h"
#include "napi_throw.h"

// Largest IPv4 UDP payload: no datagram can be truncated into this buffer.
#define RECV_BUFFER_SIZE 65536
// Datagrams handled per readiness callback before yielding back to the event loop.
#define RECV_BATCH 64

typedef struct {
  uv_poll_t poll;
  int fd;
  int polling;        // uv_poll_start succeeded and uv_close has not been called
  int closed;         // close() ran: fd closed, no more callbacks
  int handle_closed;  // libuv finished closing the poll handle (or it was never started)
  int finalized;      // the JS external was collected
  napi_env env;
  napi_ref callback;
  napi_async_context async_context;
  unsigned char buffer[RECV_BUFFER_SIZE];
} udp_device;

static void maybe_free(udp_device *dev) {
  if (dev->handle_closed && dev->finalized) free(dev);
}

// Drops the JS callback and async context. Never called from inside that callback: only once
// libuv has closed the poll handle (or when there never was one).
static void release_js(udp_device *dev) {
  if (dev->callback) {
    napi_delete_reference(dev->env, dev->callback);
    dev->callback = NULL;
  }
  if (dev->async_context) {
    napi_async_destroy(dev->env, dev->async_context);
    dev->async_context = NULL;
  }
}

static void on_poll_closed(uv_handle_t *handle) {
  udp_device *dev = (udp_device *)handle->data;
  dev->handle_closed = 1;
  release_js(dev);
  maybe_free(dev);
}

// Stops callbacks and closes the fd; idempotent and safe to call from the receive callback.
static void device_close(udp_device *dev) {
  if (dev->closed) return;
  dev->closed = 1;
  if (dev->polling) {
    dev->polling = 0;
    uv_poll_stop(&dev->poll);  // inactive before the fd goes, as libuv requires
    uv_close((uv_handle_t *)&dev->poll, on_poll_closed);
  }
  if (dev->fd >= 0) {
    close(dev->fd);
    dev->fd = -1;
  }
  if (dev->handle_closed) release_js(dev);
}

static void device_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  udp_device *dev = (udp_device *)data;
  device_close(dev);
  dev->finalized = 1;
  maybe_free(dev);
}

static udp_device *get_device(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    throw_type(env, "expected a udp device handle");
    return NULL;
  }
  return (udp_device *)data;
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

  udp_device *dev = calloc(1, sizeof *dev);
  if (!dev) {
    close(fd);
    return throw_errno(env, "calloc", ENOMEM);
  }
  dev->fd = fd;
  dev->env = env;
  dev->handle_closed = 1;  // no libuv handle until startReceiving
  napi_value handle;
  if (napi_create_external(env, dev, device_finalize, NULL, &handle) != napi_ok) {
    close(fd);
    free(dev);
    return throw_errno(env, "napi_create_external", ENOMEM);
  }
  return handle;
}

// localPort(handle) -> number
static napi_value js_local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1) return throw_type(env, "localPort(handle)");
  udp_device *dev = get_device(env, argv[0]);
  if (!dev) return NULL;
  if (dev->closed) return throw_errno(env, "getsockname", EBADF);
  struct sockaddr_in sin;
  socklen_t len = sizeof sin;
  if (getsockname(dev->fd, (struct sockaddr *)&sin, &len) != 0) return throw_errno(env, "getsockname", errno);
  napi_value out;
  napi_create_uint32(env, ntohs(sin.sin_port), &out);
  return out;
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

  ssize_t n = recvmsg(dev->fd, &msg, 0);
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
  if (dev->closed || status < 0 || !(events & UV_READABLE)) return;
  napi_env env = dev->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  for (int i = 0; i < RECV_BATCH && !dev->closed; i++) {
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
    napi_value datagram, data, callback, recv, result;
    napi_create_object(env, &datagram);
    napi_create_buffer_copy(env, (size_t)n, dev->buffer, NULL, &data);
    napi_set_named_property(env, datagram, "data", data);
    set_string(env, datagram, "address", from_text);
    set_uint(env, datagram, "port", ntohs(from.sin_port));
    set_uint(env, datagram, "ifindex", has_pktinfo ? (uint32_t)pktinfo.ipi_ifindex : 0);
    set_string(env, datagram, "localAddress", local_text);
    set_string(env, datagram, "destination", dest_text);

    // napi_make_callback needs an object as receiver; undefined throws "Cannot convert undefined or null to object".
    napi_get_global(env, &recv);
    if (dev->callback && napi_get_reference_value(env, dev->callback, &callback) == napi_ok && callback != NULL) {
      napi_status s = napi_make_callback(env, dev->async_context, recv, callback, 1, &datagram, &result);
      if (s == napi_pending_exception) {
        // The JS side catches its own handler's errors; anything reaching here is a bug worth seeing.
        napi_value exception;
        napi_get_and_clear_last_exception(env, &exception);
        napi_fatal_exception(env, exception);
      }
    }
    napi_close_handle_scope(env, inner);
  }
  napi_close_handle_scope(env, scope);
}

// startReceiving(handle, callback): callback({data, address, port, ifindex, localAddress, destination})
static napi_value js_start_receiving(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 2) return throw_type(env, "startReceiving(handle, callback)");
  udp_device *dev = get_device(env, argv[0]);
  if (!dev) return NULL;
  napi_valuetype type;
  napi_typeof(env, argv[1], &type);
  if (type != napi_function) return throw_type(env, "callback must be a function");
  if (dev->closed) return throw_errno(env, "startReceiving", EBADF);
  if (dev->polling || !dev->handle_closed) return throw_errno(env, "startReceiving", EALREADY);

  napi_value resource_name;
  napi_create_string_utf8(env, "UdpDeviceSocket", NAPI_AUTO_LENGTH, &resource_name);
  if (napi_async_init(env, NULL, resource_name, &dev->async_context) != napi_ok) return throw_errno(env, "napi_async_init", ENOMEM);
  napi_create_reference(env, argv[1], 1, &dev->callback);

  uv_loop_t *loop = NULL;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &dev->poll, dev->fd);
  if (rc == 0) {
    dev->poll.data = dev;
    dev->handle_closed = 0;
    rc = uv_poll_start(&dev->poll, UV_READABLE, on_readable);
    if (rc != 0) {
      uv_close((uv_handle_t *)&dev->poll, on_poll_closed);
    } else {
      dev->polling = 1;
    }
  }
  if (rc != 0) {
    napi_delete_reference(env, dev->callback);
    dev->callback = NULL;
    napi_async_destroy(env, dev->async_context);
    dev->async_context = NULL;
    return throw_errno(env, "uv_poll_start", -rc);
  }
  return NULL;
}

// send(handle, buffer, port, address)
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4) return throw_type(env, "send(handle, buffer, port, address)");
  udp_device *dev = get_device(env, argv[0]);
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
  if (dev->closed) return throw_errno(env, "sendto", EBADF);
  ssize_t sent = sendto(dev->fd, data, length, 0, (struct sockaddr *)&to, sizeof to);
  if (sent < 0) return throw_errno(env, "sendto", errno);
  if ((size_t)sent != length) return throw_errno(env, "sendto", EMSGSIZE);
  return NULL;
}

// close(handle)
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1) return throw_type(env, "close(handle)");
  udp_device *dev = get_device(env, argv[0]);
  if (!dev) return NULL;
  device_close(dev);
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
      {"startReceiving", NULL, js_start_receiving, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"interfaceIndex", NULL, js_interface_index, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  tftp_pump_register(env, exports);
  packet_listener_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
