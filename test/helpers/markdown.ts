/**
 * Just enough Markdown reading for the documentation tests (test/docs/): the
 * README and docs/*.md as files of the repository, their headings and the
 * anchors GitHub gives them, their links, and the rows of a table under a
 * heading. No servers, no dependencies.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** README.md and every docs/*.md, as paths relative to the root. */
export function docFiles(): string[] {
  const docs = readdirSync(join(repoRoot, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

export function readDoc(path: string): string {
  return readFileSync(join(repoRoot, path), 'utf8');
}

export function fromRoot(absolute: string): string {
  return relative(repoRoot, absolute);
}

/** The text with every fenced code block's lines blanked (line numbers kept). */
export function withoutFences(text: string): string {
  let fence: string | undefined;
  return text
    .split('\n')
    .map((line) => {
      const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
      if (fence === undefined) {
        if (marker) {
          fence = marker;
          return '';
        }
        return line;
      }
      if (marker && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) fence = undefined;
      return '';
    })
    .join('\n');
}

/** The text without inline code spans (`x`, ``x ` y``), which hold no links; a span may not cross a blank line. */
export function withoutCodeSpans(text: string): string {
  return text.replace(/(?<!`)(`+)(?!`)(?:[^\n]|\n(?!\n))*?(?<!`)\1(?!`)/g, (span) => span.replace(/[^\n]/g, ' '));
}

export interface Heading {
  level: number;
  text: string;
  line: number;
}

/** ATX headings (`## Title`) outside code blocks. */
export function headings(text: string): Heading[] {
  const found: Heading[] = [];
  withoutFences(text)
    .split('\n')
    .forEach((line, index) => {
      const match = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
      if (match) found.push({ level: match[1]!.length, text: match[2]!, line: index + 1 });
    });
  return found;
}

/**
 * The anchor GitHub gives a heading (github-slugger): the rendered text
 * (code spans, links and emphasis reduced to their text) lowercased, every
 * character but letters, digits, marks, `_`, `-` and spaces removed, spaces
 * turned into `-`.
 */
export function slug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/(\*\*|__|\*|_)(\S(?:.*?\S)?)\1/g, '$2');
  return rendered
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor of a document's headings; a repeated heading gets `-1`, `-2`... as on GitHub. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const { text: heading } of headings(text)) {
    const base = slug(heading);
    let anchor = base;
    let count = seen.get(base) ?? 0;
    while (result.has(anchor)) anchor = `${base}-${++count}`;
    seen.set(base, count);
    result.add(anchor);
  }
  return result;
}

export interface Link {
  target: string;
  line: number;
}

/** Every link and image target outside code: inline `[text](target)`, reference definitions `[x]: target`, and HTML `href`/`src`. */
export function links(text: string): Link[] {
  const prose = withoutCodeSpans(withoutFences(text));
  const lineOf = (offset: number) => prose.slice(0, offset).split('\n').length;
  const found: Link[] = [];
  const patterns = [
    /!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+["'(][^)]*)?\)/g,
    /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/gm,
    /<(?:a|img)\s[^>]*?(?:href|src)\s*=\s*"([^"]+)"/g,
  ];
  for (const pattern of patterns) {
    for (const match of prose.matchAll(pattern)) found.push({ target: match[1]!, line: lineOf(match.index) });
  }
  return found.sort((a, b) => a.line - b.line);
}

/**
 * The text of the section under the first heading named `title` (any
 * level), up to the next heading of the same or a higher level.
 */
export function section(text: string, title: string): string {
  const all = headings(text);
  const start = all.find((h) => h.text === title);
  if (!start) throw new Error(`no heading "${title}"`);
  const end = all.find((h) => h.line > start.line && h.level <= start.level);
  return text
    .split('\n')
    .slice(start.line, end ? end.line - 1 : undefined)
    .join('\n');
}

/** The cells of every row of the first table in `text` (header and separator left out), trimmed; `\|` is a literal pipe. */
export function tableRows(text: string): string[][] {
  const lines = text.split('\n');
  const first = lines.findIndex((line, i) => line.trim().startsWith('|') && /^\s*\|?\s*:?-{3,}/.test(lines[i + 1] ?? ''));
  if (first < 0) return [];
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.trim().startsWith('|')) break;
    const cells = line
      .trim()
      .replace(/^\|/, '')
      .replace(/(?<!\\)\|$/, '')
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim().replace(/\\\|/g, '|'));
    rows.push(cells);
  }
  return rows;
}
