/**
 * Where the domain modules write log lines. An `InvocationContext` fits, and so does `console`; a module that only
 * warns asks for `Pick<Logger, 'warn'>`.
 */
export interface Logger {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}
