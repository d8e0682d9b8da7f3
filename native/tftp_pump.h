// The TFTP transfer socket (native/tftp_pump.c), registered on the udp_device addon's exports
// so that one .node file carries both (the .deb and the loader know only that one).
#ifndef PXE_PILOT_TFTP_PUMP_H
#define PXE_PILOT_TFTP_PUMP_H
#include <node_api.h>
void tftp_pump_register(napi_env env, napi_value exports);
#endif
