/** Where a command writes: `process.stdout`/`process.stderr`, or a string collector in tests. */
export interface Writable {
  write(chunk: string): unknown;
}
