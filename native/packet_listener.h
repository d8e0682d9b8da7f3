// The packet listener (native/packet_listener.c), registered on the udp_device addon's exports
// so that one .node file carries it (the .deb and the loader know only that one).
#ifndef PXE_PILOT_PACKET_LISTENER_H
#define PXE_PILOT_PACKET_LISTENER_H
#include <node_api.h>
void packet_listener_register(napi_env env, napi_value exports);
#endif
