/**
 * The command line of every script: an option table that is both what
 * `node:util`'s parseArgs reads and the usage text, so the two cannot drift.
 * The same rules everywhere: an unknown option, a missing value (`--out
 * --quick` is `--out` without one), a value given to a flag, an option given
 * twice and a stray argument are refused; `--help` / `-h` prints the usage.
 * `parseOrExit` prints a refusal with the usage on stderr and exits 2.
 *
 *   const command = defineCommand({ usage: 'npm run x -- [options]', options: {
 *     quick: { type: 'boolean', help: 'shorter runs' },
 *     out: { type: 'string', value: 'DIR', help: 'results folder (default out/)' },
 *   } }, (values) => ({ quick: values.quick, out: values.out ?? 'out' }));
 *   const options = command.parseOrExit();
 */
import { parseArgs } from 'node:util';

/** A command line the script refuses: printed with the usage, exit code 2. */
export class UsageError extends Error {}

/** `--help` was given: parseOrExit prints the usage and exits 0. */
export class HelpRequest extends Error {}

const HELP = { type: 'boolean', short: 'h', help: 'print this text' };

function usageText(usage, table, notes) {
  const left = Object.entries(table).map(([name, spec]) => `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` ${spec.value}` : ''}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  const lines = [`usage: ${usage}`];
  Object.values(table).forEach((spec, i) => {
    const [first, ...more] = spec.help.split('\n');
    lines.push(`  ${left[i].padEnd(width)}${first}`, ...more.map((line) => `  ${' '.repeat(width)}${line}`));
  });
  return notes ? `${lines.join('\n')}\n\n${notes}` : lines.join('\n');
}

/** Reads argv against the table: every value as given (strings, booleans, lists), or a UsageError. */
function readValues(table, argv) {
  // strict: false, so that each refusal below names the option in the same words in every script.
  const { values, tokens } = parseArgs({
    args: [...argv],
    // parseArgs takes only these keys, and refuses one set to undefined.
    options: Object.fromEntries(
      Object.entries(table).map(([name, { type, multiple, short }]) => [name, { type, ...(multiple ? { multiple } : {}), ...(short ? { short } : {}) }]),
    ),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const seen = new Set();
  for (const token of tokens) {
    if (token.kind === 'positional') throw new UsageError(`unexpected argument ${JSON.stringify(token.value)}`);
    if (token.kind !== 'option') continue;
    const spec = table[token.name];
    if (!spec) throw new UsageError(`unknown option ${token.rawName}`);
    const name = `--${token.name}`;
    if (spec.type === 'boolean' && token.value !== undefined) throw new UsageError(`${name} takes no value`);
    if (spec.type === 'string' && token.value === undefined) throw new UsageError(`${name} needs a value`);
    // parseArgs would take the next option as the value (`--out --quick`); write --out=--quick to mean that.
    if (spec.type === 'string' && !token.inlineValue && token.value.startsWith('-')) throw new UsageError(`${name} needs a value (${token.value} is an option)`);
    if (seen.has(token.name) && !spec.multiple) throw new UsageError(`${name} given twice`);
    seen.add(token.name);
  }
  return Object.fromEntries(
    Object.entries(table).map(([name, spec]) => [name, values[name] ?? (spec.type === 'boolean' ? false : spec.multiple ? [] : undefined)]),
  );
}

/**
 * A command from its usage line, option table and closing notes; `build`
 * turns the values into the script's options and throws UsageError for a
 * value it refuses.
 */
export function defineCommand({ usage, options, notes }, build = (values) => values) {
  const table = { ...options, help: HELP };
  const text = usageText(usage, table, notes);
  const parse = (argv) => {
    const { help, ...values } = readValues(table, argv);
    if (help) throw new HelpRequest(text);
    return build(values);
  };
  return {
    usage: text,
    parse,
    parseOrExit(argv = process.argv.slice(2)) {
      try {
        return parse(argv);
      } catch (err) {
        if (err instanceof HelpRequest) {
          console.log(text);
          process.exit(0);
        }
        if (err instanceof UsageError) {
          console.error(`${err.message}\n\n${text}`);
          process.exit(2);
        }
        throw err;
      }
    },
  };
}

/**
 * The number an option's text spells (`10_000` allowed), within bounds:
 * `{ min, max }` inclusive, or `{ above, max }` for "more than".
 */
export function numberValue(name, text, { min, above, max, integer = true }) {
  const n = Number(text.replace(/(?<=\d)_(?=\d)/g, ''));
  const low = above !== undefined ? n > above : n >= min;
  if (text.trim() === '' || !Number.isFinite(n) || !low || n > max || (integer && !Number.isInteger(n))) {
    const range = above !== undefined ? `above ${above} and at most ${max}` : `from ${min} to ${max}`;
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} ${range}, got ${JSON.stringify(text)}`);
  }
  return n;
}
