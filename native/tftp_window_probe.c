// A test-only addon (build/Release/tftp_window_probe.node, never shipped or loaded by the daemon):
// runs native/tftp_window_core.c on a sequence of ACKs and sends, so test/tftp/window-core.test.ts
// can compare it step by step with src/tftp/window.ts. One call per sequence, no handles.
#include <node_api.h>
#include <stdint.h>

#include "napi_throw.h"
#include "tftp_window_core.h"

// Numbers per step in the result: what the step did, then the window state after it.
#define STEP_FIELDS 10
// An op that is not an ACK's wire block: send the next window (what the transfer does after
// progress or on a timeout).
#define OP_SEND -1

static int get_u64(napi_env env, napi_value value, uint64_t *out) {
  double d = 0;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0) || d > 9007199254740991.0 || d != (double)(uint64_t)d) return -1;
  *out = (uint64_t)d;
  return 0;
}

static napi_value number(napi_env env, double value) {
  napi_value out;
  napi_create_double(env, value, &out);
  return out;
}

// replay(size, blksize, windowsize, state | null, ops) -> { lastBlock, adopted, steps }
//   state: [acked, sentUpTo, highestSent, retransmits], adopted before the first op (as arm does)
//   ops: wire block numbers 0-65535 (an ACK) or -1 (send the next window)
//   steps: STEP_FIELDS numbers per op: result (ACK: 0 progress, 1 done, 2 duplicate, 3 stray;
//          send: 1 sent, 0 complete), first, last (the window sent, else 0 0), acked, sentUpTo,
//          highestSent, retransmits, the acknowledged bytes, then the next window's first and last
//          (0 0 when complete)
static napi_value js_replay(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5) return throw_type(env, "replay(size, blksize, windowsize, state, ops)");
  uint64_t size = 0;
  uint32_t blksize = 0, windowsize = 0;
  if (get_u64(env, argv[0], &size) != 0) return throw_type(env, "size must be a whole number");
  if (napi_get_value_uint32(env, argv[1], &blksize) != napi_ok || blksize < 8 || blksize > 65464) return throw_type(env, "blksize must be 8-65464");
  if (napi_get_value_uint32(env, argv[2], &windowsize) != napi_ok || windowsize < 1 || windowsize > 65535) return throw_type(env, "windowsize must be 1-65535");
  tftp_window w;
  tftp_window_init(&w, size, blksize, windowsize);

  napi_valuetype state_type;
  napi_typeof(env, argv[3], &state_type);
  int adopted = 1;
  if (state_type != napi_null) {
    uint64_t values[4];
    for (uint32_t i = 0; i < 4; i++) {
      napi_value v;
      if (napi_get_element(env, argv[3], i, &v) != napi_ok || get_u64(env, v, &values[i]) != 0)
        return throw_type(env, "state must be [acked, sentUpTo, highestSent, retransmits]");
    }
    adopted = tftp_window_adopt(&w, values[0], values[1], values[2], values[3]) == 0;
  }

  bool is_array = false;
  uint32_t count = 0;
  napi_is_array(env, argv[4], &is_array);
  if (!is_array || napi_get_array_length(env, argv[4], &count) != napi_ok) return throw_type(env, "ops must be an array");
  napi_value steps;
  napi_create_array_with_length(env, (size_t)count * STEP_FIELDS, &steps);
  for (uint32_t i = 0; i < count; i++) {
    napi_value v;
    int32_t op = 0;
    if (napi_get_element(env, argv[4], i, &v) != napi_ok || napi_get_value_int32(env, v, &op) != napi_ok || op < OP_SEND || op > 65535)
      return throw_type(env, "each op must be a wire block 0-65535 or -1 (send)");
    double result = 0;
    tftp_block_range sent = {0, 0};
    if (op == OP_SEND) result = tftp_window_next(&w, &sent) ? 1 : 0;
    else result = (double)tftp_window_on_ack(&w, (uint16_t)op);
    tftp_block_range next = {0, 0};
    tftp_window_peek(&w, &next);
    uint64_t start = 0, acked_end = 0;
    if (w.acked > 0) tftp_window_bytes_of(&w, w.acked, &start, &acked_end);
    double fields[STEP_FIELDS] = {result,
                                  (double)sent.first,
                                  (double)sent.last,
                                  (double)w.acked,
                                  (double)w.sent_up_to,
                                  (double)w.highest_sent,
                                  (double)w.retransmits,
                                  (double)acked_end,
                                  (double)next.first,
                                  (double)next.last};
    for (uint32_t f = 0; f < STEP_FIELDS; f++) napi_set_element(env, steps, i * STEP_FIELDS + f, number(env, fields[f]));
  }

  napi_value out, adopted_value;
  napi_create_object(env, &out);
  napi_get_boolean(env, adopted, &adopted_value);
  napi_set_named_property(env, out, "lastBlock", number(env, (double)w.last_block));
  napi_set_named_property(env, out, "adopted", adopted_value);
  napi_set_named_property(env, out, "steps", steps);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"replay", NULL, js_replay, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
