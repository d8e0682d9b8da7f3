// The lifecycle of a polled socket handle; see polled_handle.h.
#include "polled_handle.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "napi_throw.h"

static void maybe_free(polled_handle *h) {
  if (h->handle_closed && h->finalized) free(h);
}

static void release_callback(polled_handle *h) {
  if (h->callback) {
    napi_delete_reference(h->env, h->callback);
    h->callback = NULL;
  }
  if (h->async_context) {
    napi_async_destroy(h->env, h->async_context);
    h->async_context = NULL;
  }
}

// Drops every JS reference. Never called from inside the callback: only once libuv has closed the
// poll handle (or when there never was one).
static void release_js(polled_handle *h) {
  if (h->release_extra) h->release_extra(h);
  release_callback(h);
}

static void on_poll_closed(uv_handle_t *handle) {
  polled_handle *h = (polled_handle *)handle->data;
  h->handle_closed = 1;
  release_js(h);
  maybe_free(h);
}

void polled_handle_close(polled_handle *h) {
  if (h->closed) return;
  h->closed = 1;
  if (h->polling) {
    h->polling = 0;
    uv_poll_stop(&h->poll);  // inactive before the fd goes, as libuv requires
    uv_close((uv_handle_t *)&h->poll, on_poll_closed);
  }
  if (h->fd >= 0) {
    close(h->fd);
    h->fd = -1;
  }
  if (h->handle_closed) release_js(h);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  polled_handle *h = (polled_handle *)data;
  polled_handle_close(h);
  h->finalized = 1;
  maybe_free(h);
}

polled_handle *polled_handle_create(napi_env env, int fd, size_t size, void (*release_extra)(polled_handle *h), napi_value *external) {
  polled_handle *h = calloc(1, size);
  if (!h) {
    close(fd);
    throw_errno(env, "calloc", ENOMEM);
    return NULL;
  }
  h->fd = fd;
  h->env = env;
  h->handle_closed = 1;  // no libuv handle until polled_handle_start
  h->release_extra = release_extra;
  if (napi_create_external(env, h, finalize, NULL, external) != napi_ok) {
    close(fd);
    free(h);
    throw_errno(env, "napi_create_external", ENOMEM);
    return NULL;
  }
  return h;
}

polled_handle *polled_handle_from_args(napi_env env, napi_callback_info info, size_t argc, napi_value *argv, const char *usage, const char *not_a_handle) {
  size_t given = argc;
  napi_get_cb_info(env, info, &given, argv, NULL, NULL);
  if (given != argc) {
    throw_type(env, usage);
    return NULL;
  }
  void *data = NULL;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    throw_type(env, not_a_handle);
    return NULL;
  }
  return (polled_handle *)data;
}

int polled_handle_check_startable(napi_env env, polled_handle *h, const char *syscall) {
  if (h->closed) {
    throw_errno(env, syscall, EBADF);
    return -1;
  }
  if (h->polling || !h->handle_closed) {
    throw_errno(env, syscall, EALREADY);
    return -1;
  }
  return 0;
}

int polled_handle_start(napi_env env, polled_handle *h, const char *resource_name, napi_value callback, uv_poll_cb on_readable) {
  napi_value name;
  napi_create_string_utf8(env, resource_name, NAPI_AUTO_LENGTH, &name);
  if (napi_async_init(env, NULL, name, &h->async_context) != napi_ok) {
    throw_errno(env, "napi_async_init", ENOMEM);
    return -1;
  }
  napi_create_reference(env, callback, 1, &h->callback);

  uv_loop_t *loop = NULL;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &h->poll, h->fd);
  if (rc == 0) {
    h->poll.data = h;
    h->handle_closed = 0;
    rc = uv_poll_start(&h->poll, UV_READABLE, on_readable);
    if (rc != 0) {
      uv_close((uv_handle_t *)&h->poll, on_poll_closed);
    } else {
      h->polling = 1;
    }
  }
  if (rc != 0) {
    // Never called: let go of it now, not when libuv gets round to closing the handle.
    release_callback(h);
    throw_errno(env, "uv_poll_start", -rc);
    return -1;
  }
  return 0;
}

static const polled_handle_kind *kind_of_call(napi_env env, napi_callback_info info) {
  void *data = NULL;
  napi_get_cb_info(env, info, NULL, NULL, NULL, &data);
  return (const polled_handle_kind *)data;
}

napi_value polled_handle_js_start(napi_env env, napi_callback_info info) {
  const polled_handle_kind *kind = kind_of_call(env, info);
  napi_value argv[2];
  polled_handle *h = polled_handle_from_args(env, info, 2, argv, kind->start_usage, kind->not_a_handle);
  if (!h) return NULL;
  napi_valuetype type;
  napi_typeof(env, argv[1], &type);
  if (type != napi_function) return throw_type(env, "callback must be a function");
  if (polled_handle_check_startable(env, h, kind->start_syscall) != 0) return NULL;
  polled_handle_start(env, h, kind->resource_name, argv[1], kind->on_readable);
  return NULL;
}

napi_value polled_handle_js_close(napi_env env, napi_callback_info info) {
  const polled_handle_kind *kind = kind_of_call(env, info);
  napi_value argv[1];
  polled_handle *h = polled_handle_from_args(env, info, 1, argv, kind->close_usage, kind->not_a_handle);
  if (h) polled_handle_close(h);
  return NULL;
}

napi_value polled_handle_local_port(napi_env env, polled_handle *h) {
  if (h->closed) return throw_errno(env, "getsockname", EBADF);
  struct sockaddr_in sin;
  socklen_t len = sizeof sin;
  if (getsockname(h->fd, (struct sockaddr *)&sin, &len) != 0) return throw_errno(env, "getsockname", errno);
  napi_value out;
  napi_create_uint32(env, ntohs(sin.sin_port), &out);
  return out;
}

void polled_handle_call_js(polled_handle *h, size_t argc, const napi_value *argv) {
  napi_env env = h->env;
  napi_value recv, callback, result;
  // napi_make_callback needs an object as receiver; undefined throws "Cannot convert undefined or null to object".
  napi_get_global(env, &recv);
  if (h->callback && napi_get_reference_value(env, h->callback, &callback) == napi_ok && callback != NULL) {
    napi_status s = napi_make_callback(env, h->async_context, recv, callback, argc, argv, &result);
    if (s == napi_pending_exception) {
      // The JS side catches its own handler's errors; anything reaching here is a bug worth seeing.
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
    }
  }
}
