{
  "targets": [
    {
      "target_name": "udp_device",
      "sources": ["native/udp_device.c"],
      "cflags": ["-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
