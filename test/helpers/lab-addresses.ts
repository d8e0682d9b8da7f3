// The boot LAN the namespace tests build, written once: addresses that exist only inside the
// namespaces a test creates (the DHCP lab, the firmware lab and the unit tests that mimic them).
export const lan = {
  bridge: 'br0',
  server: '10.77.0.1',
  prefix: 24,
  netmask: '255.255.255.0',
  router: '10.77.0.254',
  /** Unique-local, only for router advertisements inside the lab. */
  routerV6: 'fd77::254',
  rangeStart: '10.77.0.100',
  rangeEnd: '10.77.0.199',
} as const;
