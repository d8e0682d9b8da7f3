{
  "targets": [
    {
      "target_name": "udp_device",
      "sources": ["native/udp_device.c", "native/tftp_pump.c", "native/packet_listener.c"],
      "cflags": ["-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "file_send",
      "sources": ["native/file_send.c"],
      "cflags": ["-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
