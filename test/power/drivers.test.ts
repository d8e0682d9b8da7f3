// The pure parts of the drivers: how ipmitool's words are classified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classifyIpmitool } from '../../src/power/ipmi.ts';

test("ipmitool's messages (with -v) are classified: wrong credentials, no answer, an error the BMC gave", () => {
  // Measured against ipmi_sim and pyghmi (docs/decisions.md): a refused password, a port that never answers.
  const wrong = 'Loading IANA PEN Registry...\n> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session\n';
  assert.equal(classifyIpmitool(wrong).failure, 'wrong-credentials');
  assert.match(classifyIpmitool(wrong).message, /^wrong credentials/);
  assert.equal(
    classifyIpmitool('> RAKP 2 message indicates an error : unauthorized name\nError: Unable to establish IPMI v2 / RMCP+ session').failure,
    'wrong-credentials',
  );
  const silent =
    'Loading IANA PEN Registry...\nGet Auth Capabilities error\nError issuing Get Channel Authentication Capabilities request\nError: Unable to establish IPMI v2 / RMCP+ session\n';
  assert.equal(classifyIpmitool(silent).failure, 'unreachable');
  const refused = 'Loading IANA PEN Registry...\nSet Chassis Power Control to Cycle failed: Invalid data field in request\n';
  assert.deepEqual(classifyIpmitool(refused), {
    failure: 'refused',
    message: 'ipmitool: Set Chassis Power Control to Cycle failed: Invalid data field in request',
  });
});

test('property: any ipmitool output is classified, with a message', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (text) => {
      const c = classifyIpmitool(text);
      assert.ok(['wrong-credentials', 'unreachable', 'refused'].includes(c.failure));
      assert.ok(c.message.length > 0);
    }),
  );
});
