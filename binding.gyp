{
  "targets": [
    {
      "target_name": "udp_device",
      "sources": ["native/udp_device.c", "native/tftp_pump.c", "native/tftp_window_core.c", "native/packet_listener.c", "native/polled_handle.c"],
      "cflags": ["-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "file_send",
      "sources": ["native/file_send.c"],
      "cflags": ["-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "tftp_window_probe",
      "sources": ["native/tftp_window_probe.c", "native/tftp_window_core.c"],
      "cflags": ["-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
