// The agent's LLDP decoder (agent/lldp.awk), run by busybox awk as in the image, on frames printed
// the way `tcpdump -x` prints them: what a switch puts in the chassis, port, system name and port
// description TLVs comes back as the inventory's neighbour, and any bytes give null or a
// neighbour, never an error or broken JSON.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { skipUnless } from '../helpers/requirements.ts';
import type { LldpNeighbour } from '../../src/agent/inventory.ts';

const awkFile = fileURLToPath(new URL('../../agent/lldp.awk', import.meta.url));
const skip = skipUnless(['busybox']);

function tlv(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + value.length);
  out[0] = (type << 1) | (value.length >> 8);
  out[1] = value.length & 0xff;
  out.set(value, 2);
  return out;
}
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** What `tcpdump -x` prints for a frame: a summary line, then 16 bytes a line in groups of two. */
function tcpdumpHex(lldpdu: Uint8Array): string {
  const lines = ['12:00:00.000000 LLDP, length ' + lldpdu.length + ': switch'];
  for (let at = 0; at < lldpdu.length; at += 16) {
    const chunk = [...lldpdu.subarray(at, at + 16)].map((b) => b.toString(16).padStart(2, '0'));
    const groups: string[] = [];
    for (let i = 0; i < chunk.length; i += 2) groups.push(chunk.slice(i, i + 2).join(''));
    lines.push(`\t0x${at.toString(16).padStart(4, '0')}:  ${groups.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

function decode(text: string): LldpNeighbour | null {
  const r = spawnSync('busybox', ['awk', '-f', awkFile], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as LldpNeighbour | null;
}

const mac = (bytes: number[]): string => bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
/** Printable ASCII without leading or trailing spaces, as switches name things. */
const name = fc.stringMatching(/^[!-~]([ -~]{0,60}[!-~])?$/);

describe('the agent LLDP decoder (busybox awk)', { skip }, () => {
  test("a switch's frame: MAC chassis id, interface-name port id, system name and port description", () => {
    const frame = concat([
      tlv(1, Uint8Array.from([4, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56])),
      tlv(2, concat([Uint8Array.of(5), ascii('swp12')])),
      tlv(3, Uint8Array.of(0, 120)),
      tlv(4, ascii('rack 7 uplink "a"')),
      tlv(5, ascii('leaf-07.lab')),
      tlv(0, new Uint8Array()),
    ]);
    assert.deepEqual(decode(tcpdumpHex(frame)), {
      chassisId: '52:54:00:12:34:56',
      portId: 'swp12',
      systemName: 'leaf-07.lab',
      portDescription: 'rack 7 uplink "a"',
    });
  });

  test('an IPv4 management address as chassis id, a MAC port id; no name nor description is null', () => {
    const frame = concat([
      tlv(1, Uint8Array.of(5, 1, 10, 0, 1, 2)),
      tlv(2, Uint8Array.of(3, 1, 2, 3, 4, 5, 6)),
      tlv(3, Uint8Array.of(0, 120)),
      tlv(0, new Uint8Array()),
    ]);
    assert.deepEqual(decode(tcpdumpHex(frame)), { chassisId: '10.0.1.2', portId: '01:02:03:04:05:06', systemName: null, portDescription: null });
  });

  test('no frame captured, or a frame that is not an LLDPDU, is null', () => {
    assert.equal(decode(''), null);
    assert.equal(decode(tcpdumpHex(ascii('hello, this is not LLDP'))), null);
  });

  test('property: any chassis, port, name and description come back as sent', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ kind: fc.constant<'mac'>('mac'), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }) }),
          fc.record({ kind: fc.constant<'text'>('text'), value: name }),
        ),
        fc.tuple(fc.constantFrom(1, 2, 5, 7), name),
        fc.option(name, { nil: null }),
        fc.option(name, { nil: null }),
        (chassis, [portSubtype, port], systemName, portDescription) => {
          const chassisTlv = chassis.kind === 'mac' ? tlv(1, Uint8Array.from([4, ...chassis.bytes])) : tlv(1, concat([Uint8Array.of(7), ascii(chassis.value)]));
          const frame = concat([
            chassisTlv,
            tlv(2, concat([Uint8Array.of(portSubtype), ascii(port)])),
            tlv(3, Uint8Array.of(0, 120)),
            ...(portDescription !== null ? [tlv(4, ascii(portDescription))] : []),
            ...(systemName !== null ? [tlv(5, ascii(systemName))] : []),
            tlv(0, new Uint8Array()),
          ]);
          assert.deepEqual(decode(tcpdumpHex(frame)), {
            chassisId: chassis.kind === 'mac' ? mac(chassis.bytes) : chassis.value,
            portId: port,
            systemName,
            portDescription,
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  test('property: any bytes give null or a neighbour of short strings without control characters', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, lldpStart) => {
        // Half the cases start like an LLDPDU, so the TLV walk is exercised, not only refused.
        const frame = lldpStart ? concat([Uint8Array.of(0x02, bytes.length & 0xff), bytes]) : bytes;
        const n = decode(tcpdumpHex(frame));
        if (n === null) return;
        for (const v of [n.chassisId, n.portId, n.systemName, n.portDescription]) {
          if (v === null) continue;
          assert.equal(typeof v, 'string');
          assert.ok(v.length > 0 && v.length <= 255, JSON.stringify(v));
          assert.ok(!/[\u0000-\u001f\u007f-\uffff]/.test(v), JSON.stringify(v));
        }
      }),
      { numRuns: 60 },
    );
  });
});
