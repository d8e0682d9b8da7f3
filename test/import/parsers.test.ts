// Property tests of the readers `pxe-pilot import` feeds with another program's files: the YAML
// subset (seed.yml, compose), .env files, compose environments, the aayusharyan local-boot rule
// and its SQLite times, and the environment → profile mapping. Whatever the bytes, each returns
// a value or its own error naming the line, never anything else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseYaml, YamlError, type YamlValue } from '../../src/import/yaml.ts';
import { EnvFileError, fromCompose, parseDotEnv } from '../../src/import/env-source.ts';
import { profileFromEnvironment, renderEnvProfile } from '../../src/import/env-profile.ts';
import { legacyTimestamp } from '../../src/import/legacy-nodes.ts';
import { parseLegacyLocalBoot } from '../../src/http/legacy/local-boot.ts';
import { parseIniProfileText } from './ini-text.ts';

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
console.log(`fast-check seed ${seed} (FC_SEED=${seed} repeats it)`);

// ---- YAML ----

const yamlKey = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,11}$/);
const yamlText = fc.string({ maxLength: 24 }).filter((s) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]/.test(s));
const yamlTree: fc.Arbitrary<YamlValue> = fc.letrec<{ node: YamlValue }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    yamlText,
    fc.constant(null),
    fc.array(tie('node'), { minLength: 1, maxLength: 4 }),
    fc.dictionary(yamlKey, tie('node'), { minKeys: 1, maxKeys: 4 }),
  ),
})).node;

/** Block style, every string double-quoted (JSON's escapes are YAML's). */
function emit(value: YamlValue, indent: string): string[] {
  if (value === null) return ['~'];
  if (typeof value === 'string') return [JSON.stringify(value)];
  const lines: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item !== null && typeof item === 'object') lines.push(`${indent}-`, ...emit(item, `${indent}  `));
      else lines.push(`${indent}- ${emit(item, '')[0]}`);
    }
    return lines;
  }
  for (const [k, v] of Object.entries(value)) {
    if (v !== null && typeof v === 'object') lines.push(`${indent}${k}:`, ...emit(v, `${indent}  `));
    else lines.push(`${indent}${k}: ${emit(v, '')[0]}`);
  }
  return lines;
}

function plain(value: YamlValue): YamlValue {
  if (value === null || typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(plain);
  const out: { [key: string]: YamlValue } = {};
  for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: plain(v), enumerable: true, writable: true, configurable: true });
  return out;
}

test('YAML: a document written in block style reads back as the same tree', () => {
  fc.assert(
    fc.property(fc.oneof(fc.array(yamlTree, { minLength: 1, maxLength: 4 }), fc.dictionary(yamlKey, yamlTree, { minKeys: 1, maxKeys: 4 })), (tree) => {
      const text = emit(tree, '').join('\n') + '\n';
      // fast-check's dictionaries have no prototype; the reader's maps are plain objects.
      assert.deepEqual(parseYaml(text), plain(tree), text);
    }),
    { seed, numRuns: 500 },
  );
});

test('YAML: any text gives a tree or a YamlError naming a line of the file', () => {
  const piece = fc.constantFrom(
    'a',
    'b: ',
    ':',
    '- ',
    '  ',
    '\n',
    '"',
    "'",
    '#',
    '[',
    ']',
    '{',
    '}',
    ',',
    '|',
    '>',
    '&x',
    '*x',
    '!!str',
    '---',
    '\t',
    '\\',
    'x: y',
    '\n  - z',
  );
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 30 }).map((p) => p.join('')),
      (text) => {
        try {
          parseYaml(text);
        } catch (err) {
          assert.ok(err instanceof YamlError, String(err));
          assert.ok(err.line >= 1 && err.line <= text.split('\n').length + 1, `${err.message} in ${JSON.stringify(text)}`);
        }
      },
    ),
    { seed, numRuns: 3000 },
  );
});

test('YAML: what the earlier projects wrote reads as they meant it', () => {
  assert.deepEqual(parseYaml('nodes:\n  - mac: "aa:bb:cc:dd:ee:ff"  # first\n    reinstall: false\n  - mac: \'11:22\'\n'), {
    nodes: [{ mac: 'aa:bb:cc:dd:ee:ff', reinstall: 'false' }, { mac: '11:22' }],
  });
  assert.deepEqual(parseYaml('a:\n- x\n- y\nb: [1, "2, 3", {c: d}]\nc: |\n  one\n  two\n'), { a: ['x', 'y'], b: ['1', '2, 3', { c: 'd' }], c: 'one\ntwo\n' });
  for (const [text, message] of [
    ['a: &anchor 1\n', /anchors/],
    ['a: 1\na: 2\n', /line 2: key "a" given twice/],
    ['a:\n\tb: 1\n', /line 2: a tab/],
    ['a: "x\n', /line 1: unclosed "/],
    ['--- \na: 1\n---\nb: 2\n', /a second document/],
  ] as const)
    assert.throws(() => parseYaml(text), message);
});

// ---- .env ----

const envName = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,15}$/);
const envValue = fc.string({ maxLength: 30 }).filter((s) => !/[\r\n]/.test(s));

test('.env: NAME="value" lines with escapes read back as written, export and comments allowed', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.tuple(envName, envValue), { selector: (e) => e[0], maxLength: 8 }), fc.boolean(), (entries, exported) => {
      const text = entries
        .map(([k, v]) => `${exported ? 'export ' : ''}${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '\\$')}" # note`)
        .join('\n');
      assert.deepEqual([...parseDotEnv(`# header\n\n${text}\n`, 'x.env')], entries);
    }),
    { seed, numRuns: 1000 },
  );
});

test('.env: any text gives the variables or an EnvFileError naming the file and line', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (text) => {
      try {
        for (const [k] of parseDotEnv(text, 'x.env')) assert.match(k, /^[A-Za-z_][A-Za-z0-9_]*$/);
      } catch (err) {
        assert.ok(err instanceof EnvFileError, String(err));
        assert.match(err.message, /^x\.env:\d+: /);
      }
    }),
    { seed, numRuns: 3000 },
  );
  assert.deepEqual(
    [...parseDotEnv("A=plain value # comment\nB='single ${mac} \\n'\nC=\n", 'x.env')],
    [
      ['A', 'plain value'],
      ['B', 'single ${mac} \\n'],
      ['C', ''],
    ],
  );
});

// ---- compose ----

test('compose: environment as a map or a list, $$ read as $, bind mounts found, the other forms noted', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(
        fc.tuple(
          fc.constantFrom('PXE_BASE_URL', 'PXE_AUTOINSTALL_URL', 'ADMIN_API_KEY', 'PXE_PILOT_PORT', 'PXE_TFTP_ENABLED'),
          envValue.filter((v) => !v.includes('$') && v.trim() === v && v !== ''),
        ),
        {
          selector: (e) => e[0],
          minLength: 1,
          maxLength: 5,
        },
      ),
      fc.boolean(),
      (entries, asList) => {
        const env = asList ? entries.map(([k, v]) => `      - ${JSON.stringify(`${k}=${v}`)}`) : entries.map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`);
        const text = ['services:', '  pxe:', '    volumes:', '      - ./answers:/answers:ro', '      - data:/data', '    environment:', ...env, ''].join('\n');
        const source = fromCompose(text, 'compose.yml');
        assert.deepEqual([...source.vars], entries);
        assert.deepEqual([...source.mounts], [['/answers', 'answers']]);
      },
    ),
    { seed, numRuns: 500 },
  );
  const source = fromCompose('services:\n  a:\n    environment:\n      PXE_AUTOINSTALL_URL: http://h/$${mac}/${HOST}\n      ADMIN_API_KEY:\n', 'c.yml');
  assert.equal(source.vars.get('PXE_AUTOINSTALL_URL'), 'http://h/${mac}/${HOST}');
  assert.ok(source.notes.some((n) => /\$\{HOST\} from the shell/.test(n)));
  assert.ok(source.notes.some((n) => /ADMIN_API_KEY: no value in the file/.test(n)));
  assert.throws(() => fromCompose('version: "3"\n', 'c.yml'), /no services: mapping/);
});

// ---- the environment → profile ----

test('environment → profile: every variable is mapped or listed as not carried over, and the text parses as INI', () => {
  const names = fc.constantFrom(
    'PXE_PILOT_PORT',
    'PXE_PILOT_ANSWERS_DIR',
    'PXE_PILOT_LOG_LEVEL',
    'PXE_PILOT_BOOT_ENABLED',
    'PXE_PILOT_TFTP_PORT',
    'PXE_PILOT_ASSET_URL',
    'PXE_BASE_URL',
    'PORT',
    'ADMIN_API_KEY',
    'PXE_TFTP_ENABLED',
    'PXE_UBUNTU_KERNEL_URL',
    'PXE_UBUNTU_INITRD_URL',
    'PXE_AUTOINSTALL_URL',
    'TIMEZONE',
    'PXE_SOMETHING_NEW',
  );
  fc.assert(
    fc.property(
      fc.uniqueArray(
        fc.tuple(
          names,
          envValue.filter((v) => !/[;#"]/.test(v)),
        ),
        { selector: (e) => e[0], minLength: 1, maxLength: 8 },
      ),
      (entries) => {
        const vars = new Map(entries);
        const profile = profileFromEnvironment({ name: 'env', vars, mounts: new Map(), notes: [] });
        const text = renderEnvProfile(profile, 'env');
        for (const [k] of entries) assert.ok(text.includes(k), `${k} is neither mapped nor listed:\n${text}`);
        const sections = parseIniProfileText(text);
        for (const key of profile.keys) assert.ok(sections.get(key.section)?.has(key.key), `${key.section}.${key.key} missing`);
      },
    ),
    { seed, numRuns: 500 },
  );
});

// ---- aayusharyan's local-boot rule and times ----

test('legacy local-boot scripts: accepted ones are exit or sanboot with allowed options only, canonical; the rest refused with a reason', () => {
  const word = fc.constantFrom(
    'sanboot',
    'exit',
    '--no-describe',
    '--keep',
    '--drive',
    '0x80',
    '0',
    '255',
    '--filename',
    '\\EFI\\x.efi',
    '--extra',
    '--label',
    'ROOT',
    '--uuid',
    '12345678-1234-1234-1234-123456789abc',
    'chain',
    'http://x',
    ';',
    '$(x)',
    '\n',
    '  ',
  );
  fc.assert(
    fc.property(
      fc.array(word, { maxLength: 8 }).map((w) => w.join(' ')),
      (script) => {
        const r = parseLegacyLocalBoot(script);
        if (!r.ok) {
          assert.ok(r.error.length > 0);
          return;
        }
        assert.match(
          r.script,
          /^(exit|sanboot( (--no-describe|--keep|--drive (0x[0-9a-fA-F]{1,2}|\d{1,3})|--(filename|extra) \\[A-Za-z0-9\\._-]+|--label [A-Za-z0-9_-]+|--uuid [0-9a-fA-F-]{36}))*)$/,
        );
        assert.deepEqual(parseLegacyLocalBoot(r.script), r);
      },
    ),
    { seed, numRuns: 3000 },
  );
  for (const ok of [
    'exit',
    'sanboot --no-describe --drive 0x80',
    'sanboot --no-describe --drive 1',
    'sanboot --no-describe --drive 0 --filename \\EFI\\ubuntu\\grubx64.efi',
  ])
    assert.equal(parseLegacyLocalBoot(ok).ok, true, ok);
  for (const bad of ['', 'kernel http://x/linux', 'sanboot --unknown-flag', 'sanboot --drive ../../../../etc/passwd', 'rm -rf /', 7, null])
    assert.equal(parseLegacyLocalBoot(bad).ok, false, String(bad));
});

test('legacy times: SQLAlchemy SQLite text in UTC, with or without an offset; anything else is not a time', () => {
  fc.assert(
    fc.property(
      fc.date({ min: new Date(Date.UTC(1970, 0, 1)), max: new Date(Date.UTC(2999, 11, 31)), noInvalidDate: true }),
      fc.integer({ min: -14 * 60, max: 14 * 60 }),
      (d, offset) => {
        const ms = d.getTime();
        const plain = new Date(ms).toISOString().replace('T', ' ').replace('Z', '000');
        assert.equal(legacyTimestamp(plain), ms);
        const local = new Date(ms + offset * 60_000).toISOString().slice(0, 23);
        const sign = offset < 0 ? '-' : '+';
        const zone = `${sign}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
        assert.equal(legacyTimestamp(`${local}${zone}`), ms);
      },
    ),
    { seed, numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 30 }), (text) => {
      const t = legacyTimestamp(text);
      assert.ok(t === undefined || (typeof t === 'number' && Number.isFinite(t)));
    }),
    { seed, numRuns: 2000 },
  );
  assert.equal(legacyTimestamp(null), null);
  assert.equal(legacyTimestamp(12), undefined);
});
