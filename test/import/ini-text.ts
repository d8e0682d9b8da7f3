// The sections and keys of an INI text as the profile loader's INI reader sees them (ini's parse).
import ini from 'ini';

export function parseIniProfileText(text: string): Map<string, Set<string>> {
  const parsed = ini.parse(text) as Record<string, unknown>;
  const sections = new Map<string, Set<string>>();
  for (const [name, body] of Object.entries(parsed)) if (body && typeof body === 'object') sections.set(name, new Set(Object.keys(body)));
  return sections;
}
