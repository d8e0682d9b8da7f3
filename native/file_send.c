// Zero-copy file bodies for HTTP: sendfile(2) from a file fd to a TCP socket fd, so a 1 GB
// installer image goes from the page cache to the socket without passing through JS buffers.
// Node has no sendfile; this addon does only that: start(), sent(), cancel().
//
// Why it is driven from the event loop (a uv_poll on writability) and not from the libuv thread
// pool: a download lasts seconds to minutes, mostly waiting for the client. A work item that loops
// sendfile and poll()s would hold one of the pool's 4 threads for the whole download, and the pool
// is shared with every fs call (stat, realpath, open): 4 slow clients would stall the daemon, and a
// storm of 500 machines would queue behind them. A uv_poll costs no thread while waiting; each
// writable callback copies what the socket buffer takes (sendfile on a non-blocking socket
// returns EAGAIN when it is full), bounded per callback so other connections get their turn. The
// copy itself is a page-cache-to-socket memcpy in the kernel, as nginx does on its event loop.
//
// The socket fd is dup()ed: libuv allows one watcher per fd number and Node's TCP handle already
// has the original, and the dup also keeps the fd number ours, so a socket Node closes (and whose
// number the kernel may hand to a new connection) is never written to. The file fd is borrowed:
// the caller keeps it open until the done callback has run.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>
#include <uv.h>
#include "napi_throw.h"

// Bytes sent per writable callback before yielding to the event loop (level-triggered: the
// poll fires again on the next turn if the socket still has room).
#define SEND_BUDGET (4 * 1024 * 1024)
// Linux sends at most this much per sendfile call anyway.
#define SENDFILE_MAX 0x7ffff000

typedef struct {
  uv_poll_t poll;
  int sock;           // our dup of the socket fd; -1 once closed
  int file;           // borrowed file fd
  int64_t offset;     // next file offset to send
  int64_t remaining;  // bytes still to send
  int64_t sent;       // bytes sent so far
  int error;          // errno that ended the transfer (ECANCELED for cancel()), 0 = completed
  int finished;       // no more sendfile: poll stopped, sock closed, uv_close requested
  int handle_closed;  // libuv closed the poll handle (the done callback has run)
  int finalized;      // the JS external was collected
  napi_env env;
  napi_ref callback;
  napi_async_context async_context;
} transfer;

static void maybe_free(transfer *t) {
  if (t->handle_closed && t->finalized) free(t);
}

// Runs once libuv has let go of the poll handle: tell JS how it ended, then drop the JS references.
static void on_poll_closed(uv_handle_t *handle) {
  transfer *t = (transfer *)handle->data;
  t->handle_closed = 1;
  napi_env env = t->env;
  napi_handle_scope scope;
  if (t->callback && napi_open_handle_scope(env, &scope) == napi_ok) {
    napi_value callback, recv, argv[2], result;
    if (t->error) {
      napi_create_string_utf8(env, uv_err_name(-t->error), NAPI_AUTO_LENGTH, &argv[0]);
    } else {
      napi_get_null(env, &argv[0]);
    }
    napi_create_int64(env, t->sent, &argv[1]);
    napi_get_global(env, &recv);
    if (napi_get_reference_value(env, t->callback, &callback) == napi_ok && callback != NULL) {
      // napi_make_callback (not napi_call_function): promise jobs and nextTicks queued by the
      // callback run right after it, as for any other libuv-driven callback.
      if (napi_make_callback(env, t->async_context, recv, callback, 2, argv, &result) == napi_pending_exception) {
        napi_value exception;
        napi_get_and_clear_last_exception(env, &exception);
        napi_fatal_exception(env, exception);
      }
    }
    napi_close_handle_scope(env, scope);
  }
  if (t->callback) napi_delete_reference(env, t->callback);
  t->callback = NULL;
  if (t->async_context) napi_async_destroy(env, t->async_context);
  t->async_context = NULL;
  maybe_free(t);
}

// Ends the transfer (idempotent): stop polling, close our socket dup, report from the close callback.
static void finish(transfer *t, int error) {
  if (t->finished) return;
  t->finished = 1;
  t->error = error;
  // Stopping removes the fd from epoll before it is closed, as libuv requires.
  uv_poll_stop(&t->poll);
  close(t->sock);
  t->sock = -1;
  uv_close((uv_handle_t *)&t->poll, on_poll_closed);
}

static void on_writable(uv_poll_t *handle, int status, int events) {
  transfer *t = (transfer *)handle->data;
  if (t->finished) return;
  if (status < 0) {
    finish(t, -status);
    return;
  }
  if (!(events & UV_WRITABLE)) return;
  int64_t budget = SEND_BUDGET;
  while (budget > 0) {
    int64_t want = t->remaining < budget ? t->remaining : budget;
    if (want > SENDFILE_MAX) want = SENDFILE_MAX;
    off_t offset = (off_t)t->offset;
    ssize_t n = sendfile(t->sock, t->file, &offset, (size_t)want);
    if (n > 0) {
      t->offset += n;
      t->sent += n;
      t->remaining -= n;
      budget -= n;
      if (t->remaining == 0) {
        finish(t, 0);
        return;
      }
    } else if (n == 0) {
      // End of file before the promised length: the file shrank under us. The response cannot
      // be completed (Content-Length is already sent), so the caller must drop the connection.
      finish(t, EIO);
      return;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;  // socket buffer full: wait for the next writable callback
    } else {
      finish(t, errno);  // EPIPE, ECONNRESET...: the client went away
      return;
    }
  }
}

static void transfer_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  // The transfer keeps running if JS dropped its handle: the callback reference and the active
  // poll handle carry it to the end; memory goes when both are released.
  transfer *t = (transfer *)data;
  t->finalized = 1;
  maybe_free(t);
}

static transfer *get_transfer(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    throw_type(env, "expected a file transfer handle");
    return NULL;
  }
  return (transfer *)data;
}

// start(socketFd, fileFd, offset, length, done(errorCode | null, sentBytes)) -> handle
// Nothing is sent synchronously: the first bytes go on the socket's first writable callback.
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5) return throw_type(env, "start(socketFd, fileFd, offset, length, done)");
  int32_t sock_fd = -1, file_fd = -1;
  int64_t offset = -1, length = -1;
  napi_valuetype type;
  if (napi_get_value_int32(env, argv[0], &sock_fd) != napi_ok || sock_fd < 0) return throw_type(env, "socketFd must be a file descriptor");
  if (napi_get_value_int32(env, argv[1], &file_fd) != napi_ok || file_fd < 0) return throw_type(env, "fileFd must be a file descriptor");
  if (napi_get_value_int64(env, argv[2], &offset) != napi_ok || offset < 0) return throw_type(env, "offset must be >= 0");
  if (napi_get_value_int64(env, argv[3], &length) != napi_ok || length <= 0) return throw_type(env, "length must be > 0");
  napi_typeof(env, argv[4], &type);
  if (type != napi_function) return throw_type(env, "done must be a function");

  transfer *t = calloc(1, sizeof *t);
  if (!t) return throw_errno(env, "calloc", ENOMEM);
  t->sock = fcntl(sock_fd, F_DUPFD_CLOEXEC, 0);
  if (t->sock < 0) {
    int err = errno;
    free(t);
    return throw_errno(env, "dup", err);
  }
  t->file = file_fd;
  t->offset = offset;
  t->remaining = length;
  t->env = env;

  uv_loop_t *loop = NULL;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &t->poll, t->sock);
  if (rc != 0) {
    close(t->sock);
    free(t);
    return throw_errno(env, "uv_poll_init", -rc);
  }
  t->poll.data = t;
  rc = uv_poll_start(&t->poll, UV_WRITABLE, on_writable);
  if (rc != 0) {
    // The handle is initialised: it must go through uv_close. No callback yet, so nothing reports.
    t->finished = 1;
    t->finalized = 1;
    close(t->sock);
    uv_close((uv_handle_t *)&t->poll, on_poll_closed);
    return throw_errno(env, "uv_poll_start", -rc);
  }

  napi_value resource_name, handle;
  napi_create_string_utf8(env, "FileSend", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &t->async_context);
  napi_create_reference(env, argv[4], 1, &t->callback);
  if (napi_create_external(env, t, transfer_finalize, NULL, &handle) != napi_ok) {
    t->finalized = 1;
    finish(t, ENOMEM);
    return NULL;
  }
  return handle;
}

// sent(handle) -> bytes sent so far
static napi_value js_sent(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1) return throw_type(env, "sent(handle)");
  transfer *t = get_transfer(env, argv[0]);
  if (!t) return NULL;
  napi_value out;
  napi_create_int64(env, t->sent, &out);
  return out;
}

// cancel(handle): stop now (the connection closed); done() still runs, with 'ECANCELED'.
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1) return throw_type(env, "cancel(handle)");
  transfer *t = get_transfer(env, argv[0]);
  if (!t) return NULL;
  finish(t, ECANCELED);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"sent", NULL, js_sent, NULL, NULL, NULL, napi_default, NULL},
      {"cancel", NULL, js_cancel, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
