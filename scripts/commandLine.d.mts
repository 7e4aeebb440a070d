/** Types of scripts/commandLine.mjs (option tables that are parseArgs options and usage text). */
export declare class UsageError extends Error {}
export declare class HelpRequest extends Error {}

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** A string option given more than once collects a list. */
  multiple?: boolean;
  /** One letter: `-x` as well as `--name`. */
  short?: string;
  /** How the usage names the value: `--out DIR`. */
  value?: string;
  /** The usage line; more lines after `\n`. */
  help: string;
}
export type OptionTable = Record<string, OptionSpec>;

/** What a table reads to: false for an absent flag, [] for an absent list, undefined for an absent string. */
export type OptionValues<T extends OptionTable> = {
  [K in keyof T]: T[K] extends { type: 'boolean' } ? boolean : T[K] extends { multiple: true } ? string[] : string | undefined;
};

export interface CommandSpec<T extends OptionTable> {
  /** After `usage: `, e.g. `npm run bench -- [options]`. */
  usage: string;
  options: T;
  /** Printed after the options. */
  notes?: string;
}

export interface Command<R> {
  usage: string;
  /** Throws UsageError, or HelpRequest for `--help`. */
  parse(argv: readonly string[]): R;
  /** parse(argv), printing the usage and exiting: 0 for `--help`, 2 on a UsageError. */
  parseOrExit(argv?: readonly string[]): R;
}

export declare function defineCommand<const T extends OptionTable>(spec: CommandSpec<T>): Command<OptionValues<T>>;
export declare function defineCommand<const T extends OptionTable, R>(spec: CommandSpec<T>, build: (values: OptionValues<T>) => R): Command<R>;

export declare function numberValue(
  name: string,
  text: string,
  bounds: { min: number; max: number; integer?: boolean } | { above: number; max: number; integer?: boolean },
): number;
