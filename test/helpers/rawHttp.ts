import { connect, type Socket } from 'node:net';

/** What a raw exchange gave: the bytes that came back and whether the server closed the connection. */
export interface RawExchange {
  /** Everything the server sent, as latin1 text (status line, headers, body). */
  text: string;
  /** The status code of the first response, or undefined when none came. */
  status: number | undefined;
  closedByServer: boolean;
}

/**
 * Writes `bytes` as they are to the host of `base` over a plain TCP socket (no HTTP client would send a lone `[` as
 * the Host header), then reads until the server closes the connection or `waitMs` passes.
 */
export function rawExchange(base: string, bytes: string | Buffer, waitMs = 3_000): Promise<RawExchange> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let text = '';
    let closedByServer = false;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, status: statusOf(text), closedByServer });
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
    });
    socket.on('end', () => {
      closedByServer = true;
      finish();
    });
    socket.on('error', () => {
      closedByServer = true;
      finish();
    });
    socket.write(bytes);
  });
}

/** The status code of the first HTTP response in `text`. */
export function statusOf(text: string): number | undefined {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** Opens a TCP connection to the host of `base` and resolves once it is connected. */
export function openSocket(base: string): Promise<Socket> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Streams a body of `total` bytes (in 64 KiB chunks, honouring back-pressure; framed as chunks when `chunked`) after
 * `head`, until it is all sent, the server answers, or the connection breaks. Resolves with how many body bytes were
 * written by then, what came back, and whether the whole body went out before the answer arrived.
 */
export async function streamBody(
  base: string,
  head: string,
  total: number,
  chunked = false,
): Promise<{ sentBeforeAnswer: number; completed: boolean; text: string; status: number | undefined }> {
  const socket = await openSocket(base);
  let text = '';
  let answered = false;
  let broken = false;
  socket.on('data', (chunk) => {
    text += chunk.toString('latin1');
    if (statusOf(text) !== undefined) answered = true;
  });
  socket.on('error', () => {
    broken = true;
  });
  socket.on('close', () => {
    broken = true;
  });
  socket.write(head);
  const chunk = Buffer.alloc(64 * 1024, 'a');
  let sent = 0;
  while (sent < total && !answered && !broken) {
    const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
    sent += piece.length;
    const framed = chunked
      ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
      : piece;
    if (!socket.write(framed)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          socket.off('drain', done);
          socket.off('close', done);
          socket.off('data', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
        socket.on('data', done);
      });
    } else await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const completed = sent >= total && !answered;
  if (completed && chunked && !broken) socket.write('0\r\n\r\n');
  // Give the answer (if it is still coming) a moment to arrive, then hang up.
  const deadline = Date.now() + 5_000;
  while (!answered && !broken && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  socket.destroy();
  return { sentBeforeAnswer: sent, completed, text, status: statusOf(text) };
}
