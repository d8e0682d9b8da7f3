// The lifecycle shared by the udp_device addon's sockets (udp_device.c, tftp_pump.c,
// packet_listener.c): an fd watched by a libuv poll, the JS callback it calls with its async
// context, and a JS external that owns it. Each socket embeds a polled_handle as the FIRST member
// of its own struct (the poll's data, the external's data and the pointer freed are all that one
// pointer) and keeps only its own reading and state.
//
// Lifetime: close stops callbacks and closes the fd at once, and is idempotent and safe from
// inside the callback; the JS callback is released only once libuv has closed the poll handle
// (never from inside that callback); the memory goes when both the poll handle is closed and the
// external is finalized.
#ifndef PXE_PILOT_POLLED_HANDLE_H
#define PXE_PILOT_POLLED_HANDLE_H
#include <node_api.h>
#include <uv.h>

typedef struct polled_handle polled_handle;

// What tells one kind of socket from another to the shared JS entry points
// (polled_handle_js_start, polled_handle_js_close): passed as the `data` of their property descriptor.
typedef struct {
  const char *not_a_handle;   // TypeError when the first argument is no such handle
  const char *start_usage;    // TypeError when start gets the wrong number of arguments
  const char *start_syscall;  // names EBADF / EALREADY from start
  const char *resource_name;  // the async resource of the callback
  uv_poll_cb on_readable;
  const char *close_usage;
} polled_handle_kind;

struct polled_handle {
  uv_poll_t poll;     // poll.data points at this struct, hence at the socket embedding it
  int fd;
  int polling;        // uv_poll_start succeeded and uv_close has not been called
  int closed;         // close ran: fd closed, no more callbacks
  int handle_closed;  // libuv finished closing the poll handle (or it was never started)
  int finalized;      // the JS external was collected
  napi_env env;
  napi_ref callback;
  napi_async_context async_context;
  // Optional: drops the socket's own JS references, just before the callback is released.
  void (*release_extra)(polled_handle *h);
};

// A zeroed socket struct of `size` bytes (a polled_handle first) owning the open, non-blocking
// fd, with no poll handle until started, and the JS external that owns it in *external (its
// finalizer closes it). On failure closes the fd and throws: returns NULL.
polled_handle *polled_handle_create(napi_env env, int fd, size_t size, void (*release_extra)(polled_handle *h), napi_value *external);

// Reads exactly argc arguments of a JS call into argv (else a TypeError with `usage`) and returns
// the polled_handle inside the first, a JS external (else a TypeError with `not_a_handle`); NULL having thrown.
polled_handle *polled_handle_from_args(napi_env env, napi_callback_info info, size_t argc, napi_value *argv, const char *usage, const char *not_a_handle);

// Whether polling can start: 0, or -1 having thrown EBADF (closed) or EALREADY (started) as `syscall`.
int polled_handle_check_startable(napi_env env, polled_handle *h, const char *syscall);

// Starts calling on_readable when the fd is readable, with `callback` kept for
// polled_handle_call_js under an async context named `resource_name`. 0, or -1 having thrown
// (nothing is kept then). The caller checked polled_handle_check_startable first.
int polled_handle_start(napi_env env, polled_handle *h, const char *resource_name, napi_value callback, uv_poll_cb on_readable);

// JS start(handle, callback) and close(handle) for a socket whose kind is the descriptor's data.
napi_value polled_handle_js_start(napi_env env, napi_callback_info info);
napi_value polled_handle_js_close(napi_env env, napi_callback_info info);

// The local port the fd is bound to, as a JS number, or NULL having thrown (EBADF once closed).
napi_value polled_handle_local_port(napi_env env, polled_handle *h);

// Stops callbacks and closes the fd; idempotent and safe to call from the readable callback.
void polled_handle_close(polled_handle *h);

// Calls the JS callback (if still held) with argv; the caller holds a handle scope. A JS exception
// escaping it is a bug: it goes to the process's uncaught-exception handling.
void polled_handle_call_js(polled_handle *h, size_t argc, const napi_value *argv);
#endif
