// The errors the native addons throw into JavaScript, in one place for all of them: a system
// call's failure as an Error with Node's code (EADDRINUSE…), the call's name in its message and
// in `syscall`; a wrong argument as a TypeError. Each returns NULL for `return throw_…(…)`.
#ifndef PXE_PILOT_NAPI_THROW_H
#define PXE_PILOT_NAPI_THROW_H
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

static inline napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char message[160];
  const char *code = uv_err_name(-err);
  snprintf(message, sizeof message, "%s failed: %s (%s)", syscall, strerror(err), code);
  napi_value msg_value, code_value, error, syscall_value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg_value);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_create_error(env, code_value, msg_value, &error);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

static inline napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}
#endif
