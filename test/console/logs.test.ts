// Logs: JSON with one "service" key per line for machines; one readable line per event for people.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { prettyStream, prettyWanted } from '../../src/log.ts';
import { startLoopbackDaemon } from '../helpers/loopback-daemon.ts';

test('auto: readable on a terminal, JSON under systemd or into a pipe; --log-format forces either', () => {
  assert.equal(prettyWanted('auto', { isTTY: true }, {}), true);
  assert.equal(prettyWanted('auto', { isTTY: false }, {}), false);
  assert.equal(prettyWanted('auto', { isTTY: true }, { INVOCATION_ID: 'abc', JOURNAL_STREAM: '8:123' }), false);
  assert.equal(prettyWanted('json', { isTTY: true }, {}), false);
  assert.equal(prettyWanted('pretty', { isTTY: false }, {}), true);
});

test('the daemon writes JSON lines, each with its service named once', async () => {
  const daemon = await startLoopbackDaemon();
  try {
    await fetch(`${daemon.base}/nodes/not-a-mac`, { headers: { authorization: `Bearer ${daemon.token}` } });
  } finally {
    await daemon.stop();
  }
  const lines = daemon
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  assert.ok(lines.length >= 3, daemon.output());
  for (const line of lines) {
    JSON.parse(line);
    assert.ok((line.match(/"service":/g) ?? []).length <= 1, `one service key: ${line}`);
  }
  assert.ok(
    lines.some((l) => /"service":"tftp"/.test(l) && /tftp: listening/.test(l)),
    'a service line names its service',
  );
});

test('pretty output is one line per event with the service in front of the message', () => {
  let text = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  pino({ base: { pid: 1 }, name: 'pxe-pilot' }, prettyStream(false, sink))
    .child({ service: 'tftp' })
    .info({ file: 'ipxe.efi', bytes: 1024 }, 'RRQ ipxe.efi served');
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 1, text);
  assert.match(lines[0]!, /INFO.*tftp: RRQ ipxe\.efi served.*"file":"ipxe\.efi"/);
});
