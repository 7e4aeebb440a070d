import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchCommand } from '../../scripts/bench/args.js';
import { HelpRequest, UsageError, defineCommand, numberValue } from '../../scripts/commandLine.mjs';
import { runToExit } from '../helpers/process.js';

/** Exit code, stdout and stderr of `node [--import tsx] script ...args`. */
async function runScript(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const nodeArgs = script.endsWith('.ts') ? ['--import', 'tsx', script] : [script];
  const { code, stdout, stderr } = await runToExit(process.execPath, [...nodeArgs, ...args], { deadlineMs: 60_000 });
  return { code: code ?? -1, stdout, stderr };
}

const example = defineCommand(
  {
    usage: 'node example.mjs [options]',
    options: {
      quick: { type: 'boolean', help: 'shorter' },
      out: { type: 'string', value: 'DIR', help: 'results folder\n(default out/)' },
      env: { type: 'string', multiple: true, value: 'KEY=VALUE', help: 'repeatable' },
    },
    notes: 'notes after the table',
  },
  (v) => v,
);

describe('script command lines (scripts/commandLine.mjs)', () => {
  it('prints the option table as the usage, aligned, with --help added and the notes after', () => {
    assert.equal(
      example.usage,
      [
        'usage: node example.mjs [options]',
        '  --quick          shorter',
        '  --out DIR        results folder',
        '                   (default out/)',
        '  --env KEY=VALUE  repeatable',
        '  -h, --help       print this text',
        '',
        'notes after the table',
      ].join('\n'),
    );
  });

  it('reads flags, values in both spellings and repeated lists; absent ones are false, undefined and []', () => {
    assert.deepEqual(example.parse([]), { quick: false, out: undefined, env: [] });
    assert.deepEqual(example.parse(['--quick', '--out=x', '--env', 'A=1', '--env', 'B=2']), { quick: true, out: 'x', env: ['A=1', 'B=2'] });
    assert.throws(() => example.parse(['--help']), HelpRequest);
    assert.throws(() => example.parse(['-h']), HelpRequest);
  });

  it('refuses what it cannot read, naming the option', () => {
    const refusals: Array<[string[], RegExp]> = [
      [['--nope'], /^unknown option --nope$/],
      [['-x'], /^unknown option -x$/],
      [['--out'], /^--out needs a value$/],
      [['--out', '--quick'], /^--out needs a value \(--quick is an option\)$/],
      [['--quick=1'], /^--quick takes no value$/],
      [['--out', 'a', '--out', 'b'], /^--out given twice$/],
      [['stray'], /^unexpected argument "stray"$/],
    ];
    for (const [argv, message] of refusals) assert.throws(() => example.parse(argv), (err: Error) => err instanceof UsageError && message.test(err.message), argv.join(' '));
  });

  it('bounds numbers, with underscores between digits allowed', () => {
    assert.equal(numberValue('n', '10_000', { min: 1, max: 1e6 }), 10_000);
    assert.equal(numberValue('rate', '2.5', { above: 0, max: 10, integer: false }), 2.5);
    assert.throws(() => numberValue('n', '1.5', { min: 1, max: 10 }), /--n must be an integer from 1 to 10, got "1.5"$/);
    assert.throws(() => numberValue('rate', '0', { above: 0, max: 10, integer: false }), /--rate must be a number above 0 and at most 10, got "0"$/);
    for (const text of ['', ' ', 'x', '11', '_1']) assert.throws(() => numberValue('n', text, { min: 1, max: 10 }), UsageError, JSON.stringify(text));
  });

  it('every script refuses an unknown option with its usage and exit code 2', async () => {
    const scripts = [
      'scripts/bench.ts', 'scripts/loadtest.ts', 'scripts/capacity.ts', 'scripts/passwordPolicyCost.ts', 'scripts/envExample.ts',
      'scripts/startToReady.mjs', 'scripts/consoleScreenshots.mjs', 'scripts/genProto.mjs', 'scripts/buildBrowser.mjs', 'scripts/build.mjs',
    ];
    // Two at a time: each is a node process (most with tsx) on a shared machine.
    for (let i = 0; i < scripts.length; i += 2) {
      await Promise.all(scripts.slice(i, i + 2).map(async (script) => {
        const { code, stdout, stderr } = await runScript(script, ['--no-such-option']);
        assert.equal(code, 2, `${script}: ${stderr}`);
        assert.match(stderr, /^unknown option --no-such-option\n\nusage: .*\n(.*\n)*  -h, --help +print this text\n/, script);
        assert.equal(stdout, '', script);
      }));
    }
  });

  it('npm run bench -- --out --quick is refused (not a results folder named --quick); --help prints the usage', async () => {
    const refused = await runScript('scripts/bench.ts', ['--out', '--quick']);
    assert.equal(refused.code, 2);
    assert.equal(refused.stderr, `--out needs a value (--quick is an option)\n\n${benchCommand.usage}\n`);
    const help = await runScript('scripts/bench.ts', ['--help']);
    assert.equal(help.code, 0);
    assert.equal(help.stdout, `${benchCommand.usage}\n`);
  });
});
